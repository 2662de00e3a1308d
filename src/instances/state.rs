//! The instance lifecycle, as the EC2 documentation (and the seed notes) draw it:
//!
//! ```text
//!            launch                 init runs
//!   (none) ─────────> pending ──────────────────> running ──┐ reboot (stays running)
//!                        ^                          │   ^───┘
//!                  start │                     stop │
//!                        │                          v
//!                     stopped <── powered off ── stopping
//!                        │                          
//!      terminate (from pending, running, stopping, stopped)
//!                        v
//!                 shutting-down ──> terminated (visible for an hour, then gone)
//! ```

use super::super::error::Ec2Error;

/// An instance's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Launched or started; its VMM is booting.
    Pending,
    /// Its guest has started init.
    Running,
    /// Terminating: its VMM is shutting down.
    ShuttingDown,
    /// Gone (visible for an hour).
    Terminated,
    /// Stopping: its VMM is shutting down.
    Stopping,
    /// Stopped: no VMM, disks kept.
    Stopped,
}

/// Every state.
pub const ALL: [State; 6] = [
    State::Pending,
    State::Running,
    State::ShuttingDown,
    State::Terminated,
    State::Stopping,
    State::Stopped,
];

impl State {
    /// EC2's state codes.
    pub fn code(self) -> u8 {
        match self {
            State::Pending => 0,
            State::Running => 16,
            State::ShuttingDown => 32,
            State::Terminated => 48,
            State::Stopping => 64,
            State::Stopped => 80,
        }
    }

    /// EC2's state names.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::ShuttingDown => "shutting-down",
            State::Terminated => "terminated",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }

    /// The state of an EC2 state name.
    pub fn parse(s: &str) -> Option<State> {
        ALL.into_iter().find(|st| st.name() == s)
    }

    /// The state as EC2 shows it: `{"Code": 16, "Name": "running"}`.
    pub fn to_shape(self) -> crate::ec2::shapes::instances::InstanceState {
        crate::ec2::shapes::instances::InstanceState {
            code: self.code(),
            name: self.name().into(),
        }
    }

    /// States in which a VMM process should exist for the instance.
    pub fn has_vmm(self) -> bool {
        matches!(
            self,
            State::Pending | State::Running | State::Stopping | State::ShuttingDown
        )
    }
}

/// What a user asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// start-instances.
    Start,
    /// stop-instances.
    Stop,
    /// reboot-instances.
    Reboot,
    /// terminate-instances.
    Terminate,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Start => "started",
            Action::Stop => "stopped",
            Action::Reboot => "rebooted",
            Action::Terminate => "terminated",
        }
    }
}

/// What a user's action does to an instance in `from`: the new state, or `None` when the
/// action is accepted and changes nothing (EC2 answers such calls without error, e.g.
/// stopping a stopped instance), or EC2's error.
pub fn apply(id: &str, from: State, action: Action) -> Result<Option<State>, Ec2Error> {
    use State::*;
    let next = match (action, from) {
        (Action::Start, Stopped) => Some(Pending),
        (Action::Start, Pending | Running) => None,
        (Action::Stop, Pending | Running) => Some(Stopping),
        (Action::Stop, Stopping | Stopped) => None,
        (Action::Reboot, Running) => None,
        (Action::Terminate, Pending | Running | Stopping | Stopped) => Some(ShuttingDown),
        (Action::Terminate, ShuttingDown | Terminated) => None,
        _ => {
            return Err(Ec2Error::incorrect_state(id, from.name(), action.verb()));
        }
    };
    Ok(next)
}

/// What the guest did, as the supervisor saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestEvent {
    /// The kernel started init.
    InitStarted,
    /// The VMM ended (power-off, crash, hard stop, or a stop deadline).
    VmmEnded,
}

/// Where a guest event takes an instance in `from` (`None`: nothing changes).
pub fn on_guest(from: State, event: GuestEvent) -> Option<State> {
    use State::*;
    match (event, from) {
        (GuestEvent::InitStarted, Pending) => Some(Running),
        (GuestEvent::InitStarted, _) => None,
        (GuestEvent::VmmEnded, Pending | Running | Stopping) => Some(Stopped),
        (GuestEvent::VmmEnded, ShuttingDown) => Some(Terminated),
        (GuestEvent::VmmEnded, Stopped | Terminated) => None,
    }
}

/// `Monitoring.State` of an instance, stored by name in the `monitoring` column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MonitoringState {
    /// Basic monitoring: one data point per 5 minutes.
    #[default]
    Disabled,
    /// Detailed monitoring asked for; the collector has not taken it on yet.
    Pending,
    /// Detailed monitoring: 10-second high-resolution points in ec2lab.
    Enabled,
    /// Back to basic monitoring asked for; not yet taken into account.
    Disabling,
}

impl MonitoringState {
    /// EC2's name for it.
    pub fn name(self) -> &'static str {
        match self {
            MonitoringState::Disabled => "disabled",
            MonitoringState::Pending => "pending",
            MonitoringState::Enabled => "enabled",
            MonitoringState::Disabling => "disabling",
        }
    }

    /// From the stored name; anything unknown reads as `disabled`.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => MonitoringState::Pending,
            "enabled" => MonitoringState::Enabled,
            "disabling" => MonitoringState::Disabling,
            _ => MonitoringState::Disabled,
        }
    }

    /// Whether the collector publishes detailed (10-second) points: once it has settled
    /// the state, exactly when `enabled`.
    pub fn detailed(self) -> bool {
        self == MonitoringState::Enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn the_network_knows_which_states_have_a_vmm() {
        for s in ALL {
            assert_eq!(
                s.has_vmm(),
                crate::net::LIVE_STATES.contains(&s.name()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn codes_match_ec2() {
        let codes: Vec<u8> = ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 16, 32, 48, 64, 80]);
        assert_eq!(State::parse("shutting-down"), Some(ShuttingDown));
    }

    #[test]
    fn user_actions_follow_the_lifecycle() {
        assert_eq!(apply("i", Stopped, Action::Start), Ok(Some(Pending)));
        assert_eq!(apply("i", Running, Action::Stop), Ok(Some(Stopping)));
        assert_eq!(apply("i", Stopped, Action::Stop), Ok(None));
        assert_eq!(
            apply("i", Stopped, Action::Terminate),
            Ok(Some(ShuttingDown))
        );
        assert_eq!(apply("i", Running, Action::Reboot), Ok(None));
        let e = apply("i-1", Terminated, Action::Start).unwrap_err();
        assert_eq!(e.code, "IncorrectInstanceState");
        assert!(apply("i", Stopping, Action::Start).is_err());
        assert!(apply("i", Stopped, Action::Reboot).is_err());
        assert!(apply("i", Terminated, Action::Stop).is_err());
        assert_eq!(apply("i", Terminated, Action::Terminate), Ok(None));
    }

    #[test]
    fn guest_events_finish_transitions() {
        assert_eq!(on_guest(Pending, GuestEvent::InitStarted), Some(Running));
        assert_eq!(on_guest(Stopping, GuestEvent::VmmEnded), Some(Stopped));
        assert_eq!(on_guest(Running, GuestEvent::VmmEnded), Some(Stopped));
        assert_eq!(
            on_guest(ShuttingDown, GuestEvent::VmmEnded),
            Some(Terminated)
        );
        assert_eq!(on_guest(Running, GuestEvent::InitStarted), None);
    }
}
