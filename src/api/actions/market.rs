//! Purchase options: the spot actions (`instances::spot_requests`, `instances::spot_launch`) and the Reserved
//! Instance actions (`billing::reserved`), the services `ec2lab`'s verbs call too.

use serde_json::Value;

use super::{from_request, to_result, ApiCtx};
use crate::billing::reserved;
use crate::ec2::shapes::market::*;
use crate::error::Ec2Error;
use crate::instances::spot_requests as spot;

action!(
    /// `RequestSpotInstances`.
    request_spot_instances, RequestSpotInstancesRequest,
    |s, r| crate::instances::spot_launch::request_spot_instances(&mut s, &r)?
);
action!(
    /// `DescribeSpotInstanceRequests`.
    describe_spot_instance_requests, DescribeSpotInstanceRequestsRequest,
    |s, r| spot::describe_spot_instance_requests(&s, &r)?
);
action!(
    /// `CancelSpotInstanceRequests`.
    cancel_spot_instance_requests, CancelSpotInstanceRequestsRequest,
    |s, r| spot::cancel_spot_instance_requests(&mut s, &r)?
);
action!(
    /// `DescribeSpotPriceHistory`.
    describe_spot_price_history, DescribeSpotPriceHistoryRequest,
    |s, r| spot::describe_spot_price_history(&mut s, &r)?
);
action!(
    /// `DescribeReservedInstancesOfferings`.
    describe_reserved_instances_offerings, DescribeReservedInstancesOfferingsRequest,
    |s, r| reserved::describe_reserved_instances_offerings(&s, &r)?
);
action!(
    /// `PurchaseReservedInstancesOffering`.
    purchase_reserved_instances_offering, PurchaseReservedInstancesOfferingRequest,
    |s, r| reserved::purchase_reserved_instances_offering(&mut s, &r)?
);
action!(
    /// `DescribeReservedInstances`.
    describe_reserved_instances, DescribeReservedInstancesRequest,
    |s, r| reserved::describe_reserved_instances(&s, &r)?
);
