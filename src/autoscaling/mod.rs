//! Auto Scaling (API 2011-01-01).
