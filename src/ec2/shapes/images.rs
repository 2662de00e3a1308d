//! AMIs: RegisterImage, DescribeImages, CreateImage, CopyImage, DeregisterImage.
