//! The context of the second pass: what the first pass learnt about the file (variant,
//! meter, phases), made visible to the value visitors through a thread-local, and the
//! meter-model rules that depend on it (one-/three-phase model, variant of a meter).

use crate::protocol::dsmr::DsmrKind;
use crate::protocol::tic::TicKind;
use crate::protocol::MeterKind;
use crate::sim::scenario::Variant;
use std::cell::Cell;

/// What the first pass learnt about the file: the checks of later values depend on it.
#[derive(Debug, Clone, Copy, Default)]
pub(in crate::sim::scenario) struct Context {
    pub variant: Option<Variant>,
    /// The meter as named.
    pub meter: Option<MeterKind>,
    /// The meter after `phases` picked the one- or three-phase model.
    pub kind: Option<MeterKind>,
}

thread_local! {
    static CONTEXT: Cell<Context> = Cell::new(Context::default());
}

pub(super) fn context() -> Context {
    CONTEXT.with(Cell::get)
}

/// Run `f` with `ctx` visible to the visitors (restored afterwards, even on panic).
pub(in crate::sim::scenario) fn with_context<T>(ctx: Context, f: impl FnOnce() -> T) -> T {
    struct Restore(Context);
    impl Drop for Restore {
        fn drop(&mut self) {
            CONTEXT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CONTEXT.with(|c| c.replace(ctx)));
    f()
}

/// The same meter model with `phases` phases, if there is one.
pub(in crate::sim::scenario) fn with_phases(k: MeterKind, phases: usize) -> Option<MeterKind> {
    use MeterKind::{Dsmr, Tic};
    if k.phases() == phases {
        return Some(k);
    }
    Some(match k {
        Dsmr(DsmrKind::Smr5ThreePhase) => Dsmr(DsmrKind::Smr5OnePhase),
        Dsmr(DsmrKind::Smr5OnePhase) => Dsmr(DsmrKind::Smr5ThreePhase),
        Tic(TicKind::HistoricMono) => Tic(TicKind::HistoricTri),
        Tic(TicKind::HistoricTri) => Tic(TicKind::HistoricMono),
        Tic(TicKind::StandardMono) => Tic(TicKind::StandardTri),
        Tic(TicKind::StandardTri) => Tic(TicKind::StandardMono),
        Tic(TicKind::StandardMonoProducer) => Tic(TicKind::StandardTriProducer),
        Tic(TicKind::StandardTriProducer) => Tic(TicKind::StandardMonoProducer),
        Dsmr(DsmrKind::Dsmr42 | DsmrKind::Emucs) => return None,
    })
}

pub(in crate::sim::scenario) fn variant_of(k: MeterKind) -> Variant {
    match k {
        MeterKind::Dsmr(_) => Variant::P1,
        MeterKind::Tic(_) => Variant::Tic,
    }
}

pub(super) fn names_of(v: Variant) -> String {
    MeterKind::all()
        .filter(|k| variant_of(*k) == v)
        .map(MeterKind::name)
        .collect::<Vec<_>>()
        .join(", ")
}
