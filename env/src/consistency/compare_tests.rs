//! `benchmark compare`: runs averaged per episode, paired differences against
//! the reference arm, and reports of other tasks refused.

use super::compare::{compare_arms, Arm, ScoredEpisodes, MEAN_COLUMN};
use super::report::{EpisodeHorizon, EpisodeScore};

/// A report whose episode `e` has error `base + e` and kept `kept` at h1 and h8.
fn run(source: &str, base: f64, kept: f64, seeds: std::ops::Range<u64>) -> ScoredEpisodes {
    ScoredEpisodes {
        source: source.into(),
        scenario: "bounce-v0".into(),
        variant: "id".into(),
        tasks: "4 context frames, random actions, seeds from 10000".into(),
        episode_scores: seeds
            .enumerate()
            .map(|(e, seed)| {
                let err = base + e as f64;
                EpisodeScore {
                    seed,
                    mean_error_px_h1_32: Some(err),
                    mean_kept_h1_32: Some(kept),
                    dreamed_steps: 32,
                    at_horizons: [1, 8]
                        .iter()
                        .map(|&horizon| EpisodeHorizon {
                            horizon,
                            error_px: Some(err * horizon as f64),
                            kept: Some(kept),
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}

#[test]
fn runs_average_and_arms_differ_episode_by_episode() {
    let arms = [
        Arm {
            name: "base".into(),
            reports: vec![run("b0", 2.0, 0.5, 0..10), run("b1", 4.0, 0.7, 0..10)],
        },
        Arm {
            name: "lever".into(),
            reports: vec![run("l0", 1.0, 0.9, 0..10)],
        },
    ];
    let r = compare_arms(&arms).unwrap();
    assert_eq!(r.columns, vec!["h1", "h8", MEAN_COLUMN]);
    assert_eq!(r.reference, "base");
    let base = &r.arms[0];
    // the runs' means over episodes: 2 + 4.5 and 4 + 4.5 at h1
    assert_eq!(base.runs[0].error_px[0], Some(6.5));
    assert_eq!(base.runs[1].error_px[0], Some(8.5));
    assert_eq!(base.error_px[0], Some(7.5));
    assert!(base.error_diff_px.iter().all(Option::is_none));
    // every episode of the lever is 2 px better than the base's average at h1,
    // 16 px at h8: the paired interval has no width
    let lever = &r.arms[1];
    let d1 = lever.error_diff_px[0].unwrap();
    assert!(
        (d1.mean + 2.0).abs() < 1e-9 && (d1.lo + 2.0).abs() < 1e-9 && (d1.hi + 2.0).abs() < 1e-9
    );
    assert!((lever.error_diff_px[1].unwrap().mean + 16.0).abs() < 1e-9);
    assert!((lever.kept_diff[2].unwrap().mean - 0.3).abs() < 1e-9);
    let md = r.to_markdown();
    assert!(
        md.contains("| lever | 1 |") && md.contains("(6.50, 8.50)"),
        "{md}"
    );
}

#[test]
fn reports_of_other_tasks_or_without_horizons_are_refused() {
    let other_seeds = [
        Arm {
            name: "a".into(),
            reports: vec![run("a0", 1.0, 1.0, 0..10)],
        },
        Arm {
            name: "b".into(),
            reports: vec![run("b0", 1.0, 1.0, 5..15)],
        },
    ];
    let e = compare_arms(&other_seeds).unwrap_err().to_string();
    assert!(e.contains("b0") && e.contains("other tasks"), "{e}");
    let mut old = run("old", 1.0, 1.0, 0..3);
    for s in &mut old.episode_scores {
        s.at_horizons.clear();
    }
    let e = compare_arms(&[Arm {
        name: "old".into(),
        reports: vec![old],
    }])
    .unwrap_err()
    .to_string();
    assert!(e.contains("old") && e.contains("score it again"), "{e}");
    assert!(compare_arms(&[]).is_err());
}
