//! `ec2lab ce <verb>` and `ec2lab savingsplans <verb>` (Cost Explorer's and Savings Plans'
//! verbs with the aws CLI's names and flags, made from botocore's models by
//! [`super::modelverbs`]) and `ec2lab billing` (the bill of a period per resource), over
//! the same billing services as the API.

use clap::{ArgMatches, Args, Command, FromArgMatches};
use serde_json::Value;

use super::ctx::{to_json, Ctx, Failure};
use super::modelverbs::{self, ModelVerb};
use crate::billing::operations::{self, OPERATIONS};

const ABOUT: &str = "Cost Explorer: what the region's instances, volumes, snapshots and \
                     addresses cost (the aws CLI's verbs and flags)";

const AFTER_HELP: &str = "\
Cost by instance type this month, day by day:
  ec2lab ce get-cost-and-usage --time-period Start=2026-12-01,End=2027-01-01 \\
    --granularity DAILY --metrics UnblendedCost \\
    --group-by Type=DIMENSION,Key=INSTANCE_TYPE
Spot against on-demand:
  ec2lab ce get-cost-and-usage --time-period Start=2026-12-01,End=2027-01-01 \\
    --granularity MONTHLY --metrics UnblendedCost UsageQuantity \\
    --group-by Type=DIMENSION,Key=PURCHASE_TYPE
Prices come from the built-in table (see `ec2lab billing`), overridden by
<state-dir>/prices.json or EC2LAB_PRICES.";

/// `ec2lab ce <verb>`: one of Cost Explorer's operations and its flags.
#[derive(Clone, Debug)]
pub struct Ce {
    /// The operation and its raw flag values.
    pub verb: ModelVerb,
}

impl Ce {
    /// The operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.verb.operation_in(OPERATIONS)
    }
}

impl Args for Ce {
    fn augment_args(cmd: Command) -> Command {
        modelverbs::augment(cmd, operations::model(), OPERATIONS)
            .about(ABOUT)
            .after_help(AFTER_HELP)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for Ce {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let verb = modelverbs::from_matches(operations::model(), matches).ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::MissingSubcommand,
                "ec2lab ce needs a verb (see --help)\n",
            )
        })?;
        Ok(Ce { verb })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Runs one Cost Explorer verb.
pub fn run(ctx: &Ctx, a: Ce) -> Result<Value, Failure> {
    let input = modelverbs::input(operations::model(), &a.verb)?;
    let mut store = ctx.store()?;
    Ok(operations::call(&mut store, &a.verb.operation, input)?)
}

/// `ec2lab billing`: the bill of a period, one line per resource, usage type and purchase
/// option, by EC2's rules and the price table.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ec2lab billing                      # this month so far\n  \
ec2lab billing --start 2026-12-01 --end 2026-12-03T12:00:00Z\n\
Cost Explorer's view of the same records: ec2lab ce get-cost-and-usage --help"
)]
pub struct Billing {
    /// The period's start (ISO 8601; default: the start of this month, UTC).
    #[arg(long)]
    pub start: Option<String>,
    /// The period's end (ISO 8601; default: now).
    #[arg(long)]
    pub end: Option<String>,
}

/// Runs `ec2lab billing`.
pub fn billing(ctx: &Ctx, a: Billing) -> Result<Value, Failure> {
    let store = ctx.store()?;
    to_json(&crate::billing::summary::bill(
        &store,
        a.start.as_deref(),
        a.end.as_deref(),
    )?)
}

/// `ec2lab savingsplans <verb>`: the Savings Plans operations and their flags.
#[derive(Clone, Debug)]
pub struct SavingsPlans {
    /// The operation and its raw flag values.
    pub verb: ModelVerb,
}

impl SavingsPlans {
    /// The operation, for error messages.
    pub fn operation(&self) -> &'static str {
        self.verb.operation_in(operations::SAVINGS_OPERATIONS)
    }
}

const SAVINGS_AFTER_HELP: &str = "\
Commit to $0.05 an hour of compute for a year, paid hourly:
  ec2lab savingsplans describe-savings-plans-offerings --plan-types Compute \\
    --payment-options \"No Upfront\" --durations 31536000
  ec2lab savingsplans create-savings-plan --savings-plan-offering-id ID --commitment 0.05
  ec2lab savingsplans describe-savings-plans
Each clock hour the plan pays for on-demand instance usage (after Reserved Instances) at
its rate, up to the commitment; Cost Explorer shows SavingsPlanCoveredUsage,
SavingsPlanNegation and SavingsPlanRecurringFee.";

impl Args for SavingsPlans {
    fn augment_args(cmd: Command) -> Command {
        modelverbs::augment(
            cmd,
            operations::savings_model(),
            operations::SAVINGS_OPERATIONS,
        )
        .about("Savings Plans: Compute Savings Plans as billing constructs (the aws CLI's verbs and flags)")
        .after_help(SAVINGS_AFTER_HELP)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SavingsPlans {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let verb =
            modelverbs::from_matches(operations::savings_model(), matches).ok_or_else(|| {
                clap::Error::raw(
                    clap::error::ErrorKind::MissingSubcommand,
                    "ec2lab savingsplans needs a verb (see --help)\n",
                )
            })?;
        Ok(SavingsPlans { verb })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Runs one Savings Plans verb.
pub fn savings(ctx: &Ctx, a: SavingsPlans) -> Result<Value, Failure> {
    let input = modelverbs::input(operations::savings_model(), &a.verb)?;
    let mut store = ctx.store()?;
    Ok(operations::call(&mut store, &a.verb.operation, input)?)
}
