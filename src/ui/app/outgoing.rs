//! What goes out, in the deploy and rollback dialogs: the engine's diff (`Engine::diff`) of each
//! server of the dialog, asked in the background when the dialog opens (and again when its ref
//! changes). Each ask has a generation: a result of an older one (a closed dialog, a ref typed
//! since) is dropped when it arrives, so the dialog never shows another target's diff.

use super::{App, Effect};
use crate::engine::diff::{Diff, DiffTarget};

/// The diffs of the open dialog: one per server, the dialog's own server first.
#[derive(Debug)]
pub struct Outgoing {
    pub generation: u64,
    pub target: DiffTarget,
    /// `SERVER/DOMAIN` with its result once it arrived (`None`: still reading).
    pub sites: Vec<(String, Option<Result<Diff, String>>)>,
}

impl Outgoing {
    /// The dialog's own server's diff, once read.
    pub fn first(&self) -> Option<&Result<Diff, String>> {
        self.sites.first().and_then(|(_, r)| r.as_ref())
    }
}

impl App {
    /// A job starts: what was read before it is no longer what goes out.
    pub(super) fn forget_outgoing(&mut self) {
        self.outgoing = None;
    }

    /// Asks for what goes out to `sites` (the first is the dialog's own), dropping whatever an
    /// earlier dialog asked. The same question still being read is not asked twice (a dialog
    /// closed and opened again does not pile up reads on the server).
    pub(super) fn ask_outgoing(&mut self, sites: Vec<String>, target: DiffTarget) -> Vec<Effect> {
        if let Some(o) = &self.outgoing
            && o.target == target
            && o.sites.iter().map(|(s, _)| s).eq(sites.iter())
            && o.sites.iter().any(|(_, r)| r.is_none())
        {
            return vec![];
        }
        self.outgoing_generation += 1;
        let generation = self.outgoing_generation;
        let effects = sites
            .iter()
            .map(|site| Effect::Outgoing {
                generation,
                site: site.clone(),
                target: target.clone(),
            })
            .collect();
        self.outgoing = Some(Outgoing {
            generation,
            target,
            sites: sites.into_iter().map(|s| (s, None)).collect(),
        });
        effects
    }

    /// A diff arrived: kept only when it answers the dialog's latest ask.
    pub(super) fn on_outgoing(&mut self, generation: u64, site: String, r: Result<Diff, String>) {
        let Some(o) = self
            .outgoing
            .as_mut()
            .filter(|o| o.generation == generation)
        else {
            return;
        };
        if let Some((_, slot)) = o.sites.iter_mut().find(|(s, _)| *s == site) {
            *slot = Some(r);
        }
    }

    /// What the latest deploy or rollback dialog asked, and the answers so far.
    pub fn outgoing(&self) -> Option<&Outgoing> {
        self.outgoing.as_ref()
    }
}
