//! CloudWatch's actions on `ec2lab serve` (`monitoring`, API 2010-08-01), in awsQuery and
//! AWS JSON 1.0 alike: the codec hands a handler the request as a JSON object of the
//! model's member names (`src/cloudwatch/cloudwatch-model.json`) with timestamps as ISO 8601
//! text, and encodes what it returns (timestamps as ISO 8601 text or epoch seconds) for
//! the request's protocol. Every handler is one line over
//! [`crate::cloudwatch::operations::call`], the operation table `ec2lab cloudwatch` uses
//! too. An action of the model that is not in the table answers `InvalidAction` (Query)
//! or `UnknownOperationException` (JSON).

use serde_json::Value;

use super::actions::{ApiCtx, Handler};
use crate::cloudwatch::operations;
use crate::error::Ec2Error;

macro_rules! cloudwatch_actions {
    ($($name:ident => $op:literal),* $(,)?) => {
        $(
            fn $name(ctx: &ApiCtx, req: Value) -> Result<Value, Ec2Error> {
                operations::call(&mut ctx.store()?, $op, req)
            }
        )*
        /// CloudWatch's actions and their handlers.
        pub const ACTIONS: &[(&str, Handler)] = &[$(($op, $name)),*];
    };
}

cloudwatch_actions! {
    get_metric_statistics => "GetMetricStatistics",
    get_metric_data => "GetMetricData",
    list_metrics => "ListMetrics",
    put_metric_data => "PutMetricData",
    put_metric_alarm => "PutMetricAlarm",
    describe_alarms => "DescribeAlarms",
    describe_alarms_for_metric => "DescribeAlarmsForMetric",
    describe_alarm_history => "DescribeAlarmHistory",
    delete_alarms => "DeleteAlarms",
    set_alarm_state => "SetAlarmState",
    enable_alarm_actions => "EnableAlarmActions",
    disable_alarm_actions => "DisableAlarmActions",
    put_dashboard => "PutDashboard",
    get_dashboard => "GetDashboard",
    list_dashboards => "ListDashboards",
    delete_dashboards => "DeleteDashboards",
    get_metric_widget_image => "GetMetricWidgetImage",
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_serves_every_operation() {
        let names: Vec<&str> = super::ACTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, crate::cloudwatch::operations::OPERATIONS);
    }
}
