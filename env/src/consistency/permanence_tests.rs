//! Object permanence on real `occlusion-v0` physics: the truth passes every
//! event; a ball erased after its return is lost; one step late still passes,
//! four steps late does not; a second blob of the ball's colour is a duplicate;
//! a held frame never hides the ball.

use super::meter::FrameMeter;
use super::permanence::{episode_events, wilson, PermanenceSummary, VISIBLE_MIN_PX};
use super::tasks::{generate_tasks, Task};
use crate::lockstep::ActionPlan;

const SIZE: usize = 64;
const FB: usize = SIZE * SIZE * 3;
const CONTEXT: usize = 4;
const HORIZON: usize = 60;

fn setup() -> (Box<dyn somnium_scenarios::Scenario>, Vec<Task>) {
    let s = somnium_scenarios::make("occlusion-v0", "id").unwrap();
    let seeds: Vec<u64> = (0..6).collect();
    let tasks = generate_tasks(
        s.as_ref(),
        &seeds,
        &ActionPlan::Idle,
        CONTEXT,
        HORIZON,
        (SIZE, SIZE),
        0.0,
    )
    .unwrap();
    (s, tasks)
}

fn meter(s: &dyn somnium_scenarios::Scenario) -> FrameMeter {
    FrameMeter::new(&s.colors(), SIZE, SIZE, s.arena_px(SIZE, SIZE))
}

fn ball_rgb(s: &dyn somnium_scenarios::Scenario) -> [u8; 3] {
    let colors = s.colors();
    colors
        .objects
        .iter()
        .find(|o| o.dynamic)
        .expect("a tracked ball")
        .rgb
}

/// `pred` scored against task `t`'s truth.
fn events(m: &FrameMeter, t: &Task, pred: &[u8]) -> Vec<super::permanence::PermanenceEvent> {
    let ctx = t.context();
    episode_events(m, t.seed, &ctx[ctx.len() - FB..], t.future(), pred).unwrap()
}

#[test]
fn the_truth_passes_and_a_ball_erased_after_its_return_is_lost() {
    let (s, tasks) = setup();
    let m = meter(s.as_ref());
    let mut all = Vec::new();
    for t in &tasks {
        let ev = events(&m, t, t.future());
        assert!(
            ev.iter().all(|e| e.passed && e.place_error_px == Some(0.0)),
            "{ev:?}"
        );
        all.extend(ev);
        // from its true return on, hold the frame where the ball is hidden: lost
        for e in events(&m, t, t.future()) {
            let ctx = t.context();
            let hidden: Vec<u8> = match e.hidden_at {
                0 => ctx[ctx.len() - FB..].to_vec(),
                h => t.future()[(h - 1) * FB..h * FB].to_vec(),
            };
            let mut pred = t.future()[..(e.true_return - 1) * FB].to_vec();
            pred.extend(hidden.repeat(HORIZON - (e.true_return - 1)));
            let ev = events(&m, t, &pred);
            assert!(ev[0].lost && !ev[0].passed, "{:?}", ev[0]);
        }
    }
    assert!(
        all.len() >= 4,
        "the ball goes behind the wall and back in most episodes: {}",
        all.len()
    );
    let summary = PermanenceSummary::of(all).unwrap();
    assert_eq!(summary.passed, summary.events);
    assert!(
        summary.line().contains("passed (100%"),
        "{}",
        summary.line()
    );
}

#[test]
fn late_returns_duplicates_and_held_frames_are_told_apart() {
    let (s, tasks) = setup();
    let m = meter(s.as_ref());
    let rgb = ball_rgb(s.as_ref());
    let (mut one_late, mut four_late, mut n) = (0, 0, 0);
    for t in &tasks {
        if events(&m, t, t.future()).is_empty() {
            continue;
        }
        n += 1;
        let ctx = t.context();
        let last = &ctx[ctx.len() - FB..];
        // the truth delayed by k steps (the last context frame held meanwhile)
        let late = |k: usize| -> Vec<u8> {
            let mut v = last.repeat(k);
            v.extend_from_slice(&t.future()[..(HORIZON - k) * FB]);
            v
        };
        one_late += usize::from(events(&m, t, &late(1))[0].passed);
        let e4 = &events(&m, t, &late(4))[0];
        four_late += usize::from(e4.passed);
        // a 3x3 patch of the ball's colour in a corner of every frame: a duplicate
        let mut dup = t.future().to_vec();
        for f in dup.chunks_exact_mut(FB) {
            for y in 2..5 {
                for x in 2..5 {
                    f[(y * SIZE + x) * 3..(y * SIZE + x) * 3 + 3].copy_from_slice(&rgb);
                }
            }
        }
        let d = &events(&m, t, &dup)[0];
        assert!(d.duplicated && !d.passed, "{d:?}");
        // the last context frame held: never hidden (when the ball shows in it)
        let held = last.repeat(HORIZON);
        let h = &events(&m, t, &held)[0];
        assert!(!h.passed);
        if m.objects(last)
            .unwrap()
            .iter()
            .any(|o| o.area >= VISIBLE_MIN_PX)
        {
            assert!(h.never_hidden, "{h:?}");
        }
    }
    assert!(n >= 4);
    assert!(one_late >= n - 1, "one step late passes: {one_late} of {n}");
    assert_eq!(four_late, 0, "four steps late fails");
}

#[test]
fn the_wilson_interval_brackets_the_share() {
    let [p, lo, hi] = wilson(8, 10).unwrap();
    assert!((p - 0.8).abs() < 1e-12);
    // the textbook interval for 8 of 10: about [0.490, 0.943]
    assert!(
        (lo - 0.490).abs() < 2e-3 && (hi - 0.943).abs() < 2e-3,
        "{lo} {hi}"
    );
    assert_eq!(wilson(0, 0), None);
    let [_, lo, hi] = wilson(10, 10).unwrap();
    assert!(lo > 0.69 && hi == 1.0);
}

/// Predicts each task's true future, or its last context frame held.
struct Oracle {
    hold: bool,
}

impl super::predict::Predictor for Oracle {
    fn name(&self) -> &str {
        if self.hold {
            "held"
        } else {
            "truth"
        }
    }
    fn source(&self) -> Option<String> {
        None
    }
    fn predict(
        &mut self,
        tasks: &[Task],
        _: &mut dyn FnMut(),
    ) -> Result<Vec<super::predict::Prediction>, crate::EnvError> {
        Ok(tasks
            .iter()
            .map(|t| super::predict::Prediction {
                frames: if self.hold {
                    let c = t.context();
                    c[c.len() - FB..].repeat(t.future().len() / FB)
                } else {
                    t.future().to_vec()
                },
                end: None,
            })
            .collect())
    }
}

#[test]
fn the_benchmark_report_scores_permanence_on_occlusion_only() {
    let (s, _) = setup();
    let config = |episodes: u64| super::score::ScoreSetup {
        seeds: (100..100 + episodes).collect(),
        plan: ActionPlan::Idle,
        context_frames: CONTEXT,
        horizon: HORIZON,
        size: (SIZE, SIZE),
        perturbation: 1e-4,
        batch: 4,
        action_aware: false,
    };
    let truth = super::score_predictor(
        s.as_ref(),
        &config(4),
        &mut Oracle { hold: false },
        |_, _| {},
    )
    .unwrap()
    .report;
    let p = truth.permanence.expect("occlusion hides its ball");
    assert_eq!(p.passed, p.events);
    let held = super::score_predictor(
        s.as_ref(),
        &config(4),
        &mut Oracle { hold: true },
        |_, _| {},
    )
    .unwrap()
    .report;
    assert_eq!(held.permanence.unwrap().passed, 0);
    // bounce never hides a ball: no section
    let bounce = somnium_scenarios::make("bounce-v0", "id").unwrap();
    let r = super::score_predictor(
        bounce.as_ref(),
        &super::score::ScoreSetup {
            horizon: 8,
            ..config(2)
        },
        &mut Oracle { hold: false },
        |_, _| {},
    )
    .unwrap()
    .report;
    assert!(r.permanence.is_none());
}
