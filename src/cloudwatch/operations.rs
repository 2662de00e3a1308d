//! CloudWatch's operations by name: the one table both front ends use. A request comes in
//! as the JSON object of the model's member names (what the API's codecs decode from the
//! wire and what `ec2lab cloudwatch`'s flags build); it is decoded into its typed shape,
//! the service function runs, and its result goes back as JSON of the same names.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::shapes::alarms::*;
use super::shapes::dashboards::*;
use super::shapes::metrics::*;
use super::shapes::widget::GetMetricWidgetImageInput;
use super::{alarms, dashboards, metrics, widget_image, MetricStore};
use crate::ec2::members;
use crate::error::Ec2Error;
use crate::store::Store;

/// The operations served, in the model's names.
pub const OPERATIONS: &[&str] = &[
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
    "PutMetricData",
    "PutMetricAlarm",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAlarmHistory",
    "DeleteAlarms",
    "SetAlarmState",
    "EnableAlarmActions",
    "DisableAlarmActions",
    "PutDashboard",
    "GetDashboard",
    "ListDashboards",
    "DeleteDashboards",
    "GetMetricWidgetImage",
];

/// The typed request. A value of the wrong type is `InvalidParameterValue`; a member of
/// the model that ec2lab's CloudWatch has no place for (metric math, cross-account
/// members) too, naming it, rather than silently dropped (`Unsupported` is EC2's code).
fn decode<T: DeserializeOwned + Serialize>(input: Value) -> Result<T, Ec2Error> {
    members::decode(input, "", &[]).map_err(|e| match e.code.as_ref() {
        "Unsupported" => Ec2Error::invalid_parameter(format!(
            "{}: ec2lab's CloudWatch does not do it; leave it out.",
            e.message
        )),
        "InternalError" => e,
        _ => Ec2Error::invalid_parameter(format!("Invalid parameter: {}", e.message)),
    })
}

fn encode<T: Serialize>(out: &T) -> Result<Value, Ec2Error> {
    serde_json::to_value(out).map_err(|e| Ec2Error::internal(format!("result to JSON: {e}")))
}

/// An operation without a result answers an empty object.
fn done(_: ()) -> Value {
    Value::Object(Default::default())
}

/// The region's metric store.
fn metric_store(store: &Store) -> Result<MetricStore, Ec2Error> {
    MetricStore::open(store.root())
}

/// After a change the monitor daemon must see (an alarm to evaluate, data that may move
/// one): it evaluates alarms every 10 s, and is started here unless it runs.
fn wake_monitor(store: &Store) -> Result<(), Ec2Error> {
    crate::instances::monitor_daemon::ensure(store)
}

/// Runs `operation` (a name of [`OPERATIONS`]) on the region `store` is for.
pub fn call(store: &mut Store, operation: &str, input: Value) -> Result<Value, Ec2Error> {
    match operation {
        "GetMetricStatistics" => {
            let req: GetMetricStatisticsInput = decode(input)?;
            encode(&metrics::get_metric_statistics(
                &metric_store(store)?,
                &req,
            )?)
        }
        "GetMetricData" => {
            let req: GetMetricDataInput = decode(input)?;
            encode(&metrics::get_metric_data(&metric_store(store)?, &req)?)
        }
        "ListMetrics" => {
            let req: ListMetricsInput = decode(input)?;
            encode(&metrics::list_metrics(&metric_store(store)?, &req)?)
        }
        "PutMetricData" => {
            let req: PutMetricDataInput = decode(input)?;
            metrics::put_metric_data(&mut metric_store(store)?, &req)?;
            wake_monitor(store)?;
            Ok(done(()))
        }
        "PutMetricAlarm" => {
            let req: PutMetricAlarmInput = decode(input)?;
            // The service starts the monitor itself (every caller needs it).
            alarms::put_metric_alarm(store, &req).map(done)
        }
        "DescribeAlarms" => {
            let req: DescribeAlarmsInput = decode(input)?;
            encode(&alarms::describe_alarms(store, &req)?)
        }
        "DescribeAlarmsForMetric" => {
            let req: DescribeAlarmsForMetricInput = decode(input)?;
            encode(&alarms::describe_alarms_for_metric(store, &req)?)
        }
        "DescribeAlarmHistory" => {
            let req: DescribeAlarmHistoryInput = decode(input)?;
            encode(&alarms::describe_alarm_history(store, &req)?)
        }
        "DeleteAlarms" => {
            let req: DeleteAlarmsInput = decode(input)?;
            alarms::delete_alarms(store, &req).map(done)
        }
        "SetAlarmState" => {
            let req: SetAlarmStateInput = decode(input)?;
            alarms::set_alarm_state(store, &req)?;
            wake_monitor(store)?;
            Ok(done(()))
        }
        "EnableAlarmActions" => {
            let req: EnableAlarmActionsInput = decode(input)?;
            alarms::enable_alarm_actions(store, &req).map(done)
        }
        "DisableAlarmActions" => {
            let req: DisableAlarmActionsInput = decode(input)?;
            alarms::disable_alarm_actions(store, &req).map(done)
        }
        "PutDashboard" => {
            let req: PutDashboardInput = decode(input)?;
            encode(&dashboards::put_dashboard(store, &req)?)
        }
        "GetDashboard" => {
            let req: GetDashboardInput = decode(input)?;
            encode(&dashboards::get_dashboard(store, &req)?)
        }
        "ListDashboards" => {
            let req: ListDashboardsInput = decode(input)?;
            encode(&dashboards::list_dashboards(store, &req)?)
        }
        "DeleteDashboards" => {
            let req: DeleteDashboardsInput = decode(input)?;
            dashboards::delete_dashboards(store, &req).map(done)
        }
        "GetMetricWidgetImage" => {
            let req: GetMetricWidgetImageInput = decode(input)?;
            let out =
                widget_image::get_metric_widget_image(&metric_store(store)?, store.region(), &req)?;
            encode(&out)
        }
        other => Err(Ec2Error::new(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operation_is_the_models() {
        let model = crate::ec2::model::cloudwatch();
        for op in OPERATIONS {
            assert!(model.operations.contains_key(*op), "{op}");
        }
        assert_eq!(OPERATIONS.len(), model.operations.len());
    }

    #[test]
    fn decode_errors_have_cloudwatchs_codes() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "lab-1").unwrap();
        let e = call(&mut store, "DescribeAlarms", json!({"MaxRecords": "many"})).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue", "{e}");
        let e = call(
            &mut store,
            "ListMetrics",
            json!({"OwningAccount": "123456789012"}),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue", "{e}");
        assert!(e.message.contains("OwningAccount"), "{e}");
        let none = call(&mut store, "DescribeAlarms", json!({})).unwrap();
        assert_eq!(none["MetricAlarms"], json!([]));
        let e = call(&mut store, "GetDashboard", json!({"DashboardName": "x"})).unwrap_err();
        assert_eq!(e.code, "ResourceNotFound");
    }
}
