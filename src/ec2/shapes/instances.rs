//! Instances: RunInstances, DescribeInstances, the lifecycle verbs, console output, metadata options.
