//! VPCs, subnets, security groups, network interfaces and Elastic IPs.
