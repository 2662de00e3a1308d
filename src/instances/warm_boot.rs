//! The supervisor's side of a warm launch ([`super::warm`]): at an instance's first VMM
//! start it takes the instance's plan and either restores the template or boots with the
//! template switch; then it sends the identity once the restored VMM answers, or captures
//! the template when the booting guest waits and sends the identity after.

use std::time::{Duration, Instant};

use super::console;
use super::network::GuestNics;
use super::record::Instance;
use super::rundir::RunDir;
use super::warm::{self, Mode, Template};
use crate::store::Store;
use crate::vmm::config::VmConfig;

/// How long a template boot may take to reach its wait before ec2lab stops looking.
const CAPTURE_WITHIN: Duration = Duration::from_secs(900);
/// How long the identity's acknowledgement is awaited (and nudged for).
const ACK_WITHIN: Duration = Duration::from_secs(120);
/// How often a guest that has not acknowledged its identity is nudged.
const NUDGE_EVERY: Duration = Duration::from_secs(2);

/// A warm launch under way in the instance's current VMM.
pub struct WarmBoot {
    mode: Mode,
    template: Template,
    /// The guest's identity line (kept in memory only: it carries random bytes).
    identity: String,
    since: Instant,
    /// The template boot's capture is done (or failed): only the identity is left to send.
    captured: bool,
    /// When the identity went to the guest, and when it was last nudged (see [`Self::poll_ack`]).
    sent: Option<(Instant, Instant)>,
}

impl WarmBoot {
    /// At the instance's first VMM start: applies its plan to `config` (a restore, or the
    /// template switch) and says so on the console. `None`: a plain boot.
    pub fn start(
        run: &RunDir,
        inst: &Instance,
        nics: &GuestNics,
        config: &mut VmConfig,
    ) -> Option<WarmBoot> {
        let plan = warm::take_plan(run)?;
        let identity = warm::identity_line(&inst.instance_id, nics)?;
        let template = Template(plan.template);
        match plan.mode {
            Mode::Restore if template.ready() => {
                template.touch();
                config.restore = Some(template.snapshot());
                console::note(&run.console(), &warm::restored_log(&template));
            }
            // Deleted since the launch (it could not be restored): its disk copy boots.
            Mode::Restore => return None,
            Mode::Capture => config.append.push(warm::SWITCH.into()),
        }
        Some(WarmBoot {
            mode: plan.mode,
            template,
            identity,
            since: Instant::now(),
            captured: false,
            sent: None,
        })
    }

    /// The VMM restores the template (rather than booting) and the guest has not been
    /// sent its identity yet.
    pub fn restoring(&self) -> bool {
        self.mode == Mode::Restore && self.sent.is_none()
    }

    /// The identity was sent; the guest has not said it took it yet.
    pub fn awaiting_ack(&self) -> bool {
        self.sent.is_some()
    }

    /// Records that the identity went to the guest.
    pub fn mark_sent(&mut self) {
        let now = Instant::now();
        self.sent = Some((now, now));
    }

    /// Until the agent's `took the identity` line shows, a space goes to the console every
    /// [`NUDGE_EVERY`]: now and then a restored guest leaves the line in its tty buffers
    /// until more input comes (the agent flushes the spaces with the line). True when there
    /// is nothing more to do: the guest took it, or [`ACK_WITHIN`] passed.
    pub fn poll_ack(&mut self, run: &RunDir) -> bool {
        let Some((sent, nudged)) = self.sent else {
            return false;
        };
        let text = console_text(run);
        if console::current_boot(&text).contains(warm::ACK_LINE) || sent.elapsed() > ACK_WITHIN {
            return true;
        }
        if nudged.elapsed() >= NUDGE_EVERY && warm::nudge(&run.sock()).is_ok() {
            self.sent = Some((sent, Instant::now()));
        }
        false
    }

    /// Gives the restored guest its identity; an error is worth another try (the VMM may
    /// not listen yet).
    pub fn send_identity(&self, run: &RunDir) -> Result<(), String> {
        warm::send_identity(&run.sock(), &self.identity)
    }

    /// The restore failed: the template is unusable here (another ec2lab, CPU or KVM), so
    /// it goes, and the instance boots its copy of the template's disk.
    pub fn restore_failed(&self, run: &RunDir, detail: &str) {
        self.template.discard();
        console::note(
            &run.console(),
            &[format!(
                "ec2lab: warm launch: the template could not be restored ({detail}); it is \
                 deleted and the instance boots instead"
            )],
        );
    }

    /// A template boot: once the guest waits, captures the template and sends the
    /// identity. True when there is nothing more to do (the image's agent does not wait,
    /// or it never did); after a send, [`Self::poll_ack`] takes over.
    pub fn poll_capture(&mut self, store: &Store, inst: &Instance, run: &RunDir) -> bool {
        if !self.captured {
            let text = console_text(run);
            if !warm::waiting(&text) {
                if console::ready(&text) {
                    // The image's agent went on without waiting: it does not know the switch.
                    warm::unsupported(&self.template.0);
                    return true;
                }
                return self.since.elapsed() > CAPTURE_WITHIN;
            }
            let root =
                super::disks::root_volume(store, inst).map(|v| store.volume_path(&v.volume_id));
            let line = match root
                .map_err(|e| e.to_string())
                .and_then(|root| warm::capture(run, &root, &self.template.0))
            {
                Ok(c) => format!(
                    "ec2lab: warm launch: template saved for later launches of {} ({} MiB of \
                     memory, saved in {} ms)",
                    inst.image_id,
                    c.memory_bytes >> 20,
                    c.save_ms
                ),
                Err(e) => format!("ec2lab: warm launch: no template saved ({e})"),
            };
            eprintln!("ec2lab supervisor {}: {line}", inst.instance_id);
            self.captured = true;
        }
        // The guest waits either way; a failed send is tried again next poll.
        match self.send_identity(run) {
            Ok(()) => {
                self.mark_sent();
                false // the acknowledgement is awaited next
            }
            Err(e) => {
                eprintln!(
                    "ec2lab supervisor {}: sending the identity: {e}",
                    inst.instance_id
                );
                false
            }
        }
    }
}

/// The instance's console log so far, as text (both polls read it whole: it is small
/// while a guest takes its identity).
fn console_text(run: &RunDir) -> String {
    String::from_utf8_lossy(&crate::fsutil::read_nofollow(&run.console()).unwrap_or_default())
        .into_owned()
}
