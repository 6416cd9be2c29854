//! Comparing models across benchmark reports: `somnium benchmark compare`.
//!
//! Each *arm* is one or more reports of the same setup (scenario, variant,
//! seeds, context, actions), typically one model trained with several training
//! seeds. Per arm and horizon (the table horizons up to 32, and the per-episode
//! mean over steps 1 to 32) it gives the mean centroid error and kept share of
//! each report (the spread over training seeds) and, against the first arm,
//! the paired bootstrap interval of the per-episode difference: an episode's
//! value is averaged over an arm's reports first, then arms are differenced on
//! the same seed. So a row says both how far two training runs of one recipe
//! disagree and whether the recipes differ beyond the episodes' noise.

use serde::{Deserialize, Serialize};
use somnium_world_model::metrics::paired::{paired_interval, Interval};

use super::report::{ConsistencyReport, EpisodeScore};
use crate::EnvError;

/// Column label of the per-episode mean over steps 1 to 32.
pub const MEAN_COLUMN: &str = "h1-32";

/// What a comparison reads of one report: its tasks and per-episode scores.
#[derive(Clone, Debug)]
pub struct ScoredEpisodes {
    /// Where the report came from (for the output and errors).
    pub source: String,
    pub scenario: String,
    pub variant: String,
    /// The task set in words (context frames, actions, first seed), which must
    /// match across every report compared.
    pub tasks: String,
    pub episode_scores: Vec<EpisodeScore>,
}

impl ScoredEpisodes {
    pub fn of(report: &ConsistencyReport, source: &str) -> Self {
        Self {
            source: source.to_string(),
            scenario: report.scenario.clone(),
            variant: report.variant.clone(),
            tasks: format!(
                "{} context frames, {} actions, seeds from {}",
                report.context_frames, report.actions, report.seed
            ),
            episode_scores: report.episode_scores.clone(),
        }
    }

    fn seeds(&self) -> Vec<u64> {
        self.episode_scores.iter().map(|e| e.seed).collect()
    }
}

/// One arm to compare: a name and its reports.
pub struct Arm {
    pub name: String,
    pub reports: Vec<ScoredEpisodes>,
}

/// One report's means in an arm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunColumns {
    pub source: String,
    /// Mean centroid error (px) per column ([`CompareReport::columns`]).
    pub error_px: Vec<Option<f64>>,
    /// Kept share per column.
    pub kept: Vec<Option<f64>>,
}

/// One arm's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmRow {
    pub name: String,
    pub runs: Vec<RunColumns>,
    /// Mean over the arm's runs, per column.
    pub error_px: Vec<Option<f64>>,
    pub kept: Vec<Option<f64>>,
    /// Arm minus the reference arm, paired by episode, per column (`None` for
    /// the reference itself or where no episode pairs up).
    pub error_diff_px: Vec<Option<Interval>>,
    pub kept_diff: Vec<Option<Interval>>,
}

/// The comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub scenario: String,
    pub variant: String,
    pub episodes: usize,
    /// Column labels: `h1`, `h2`, ... and [`MEAN_COLUMN`].
    pub columns: Vec<String>,
    /// The first arm, which every other is compared against.
    pub reference: String,
    pub arms: Vec<ArmRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

/// Per episode (by seed order of the first report) and column: `(error, kept)`.
type EpisodeTable = Vec<Vec<(Option<f64>, Option<f64>)>>;

fn columns_of(report: &ScoredEpisodes, horizons: &[usize]) -> EpisodeTable {
    report
        .episode_scores
        .iter()
        .map(|e| {
            let mut row: Vec<(Option<f64>, Option<f64>)> = horizons
                .iter()
                .map(|h| {
                    e.at_horizons
                        .iter()
                        .find(|p| p.horizon == *h)
                        .map_or((None, None), |p| (p.error_px, p.kept))
                })
                .collect();
            row.push((e.mean_error_px_h1_32, e.mean_kept_h1_32));
            row
        })
        .collect()
}

fn mean_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Checks that every report scores the same tasks, and returns the table
/// horizons of the first.
fn check_same_setup(arms: &[Arm]) -> Result<(Vec<usize>, &ScoredEpisodes), EnvError> {
    let bad = |m: String| Err(EnvError::BadConfig(m));
    let Some(first) = arms.first().and_then(|a| a.reports.first()) else {
        return bad("compare needs at least one arm with a report".into());
    };
    let mut horizons: Vec<usize> = Vec::new();
    for h in first
        .episode_scores
        .iter()
        .flat_map(|e| e.at_horizons.iter().map(|p| p.horizon))
    {
        if !horizons.contains(&h) {
            horizons.push(h);
        }
    }
    if horizons.is_empty() {
        return bad(format!(
            "{} has no per-episode horizons (a report from before `benchmark compare`): score it again with this somnium",
            first.source
        ));
    }
    for arm in arms {
        if arm.reports.is_empty() {
            return bad(format!("arm {} has no report", arm.name));
        }
        for r in &arm.reports {
            let same = r.scenario == first.scenario
                && r.variant == first.variant
                && r.tasks == first.tasks
                && r.seeds() == first.seeds();
            if !same {
                return bad(format!(
                    "{} scores other tasks than {} ({} {}, {}, {} episodes against {} {}, {}, {} episodes): only reports of the same tasks pair up",
                    r.source,
                    first.source,
                    r.scenario,
                    r.variant,
                    r.tasks,
                    r.episode_scores.len(),
                    first.scenario,
                    first.variant,
                    first.tasks,
                    first.episode_scores.len()
                ));
            }
        }
    }
    Ok((horizons, first))
}

/// Compares `arms` against the first.
pub fn compare_arms(arms: &[Arm]) -> Result<CompareReport, EnvError> {
    let (horizons, first) = check_same_setup(arms)?;
    let ncol = horizons.len() + 1;
    let tables: Vec<Vec<EpisodeTable>> = arms
        .iter()
        .map(|a| a.reports.iter().map(|r| columns_of(r, &horizons)).collect())
        .collect();
    let episodes = first.episode_scores.len();
    // per arm, episode and column: the value averaged over the arm's runs
    let averaged: Vec<EpisodeTable> = tables
        .iter()
        .map(|runs| {
            (0..episodes)
                .map(|e| {
                    (0..ncol)
                        .map(|c| {
                            let all = |pick: fn(&(Option<f64>, Option<f64>)) -> Option<f64>| {
                                let v: Vec<Option<f64>> =
                                    runs.iter().map(|t| pick(&t[e][c])).collect();
                                // an episode counts only where every run measured it
                                if v.iter().all(Option::is_some) {
                                    mean_of(v.into_iter())
                                } else {
                                    None
                                }
                            };
                            (all(|p| p.0), all(|p| p.1))
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let diff =
        |a: &EpisodeTable, c: usize, pick: fn(&(Option<f64>, Option<f64>)) -> Option<f64>| {
            let d: Vec<f64> = a
                .iter()
                .zip(&averaged[0])
                .filter_map(|(x, r)| Some(pick(&x[c])? - pick(&r[c])?))
                .collect();
            paired_interval(&d)
        };
    let rows = arms
        .iter()
        .enumerate()
        .map(|(i, arm)| {
            let runs: Vec<RunColumns> = tables[i]
                .iter()
                .zip(&arm.reports)
                .map(|(t, r)| RunColumns {
                    source: r.source.clone(),
                    error_px: (0..ncol)
                        .map(|c| mean_of(t.iter().map(|e| e[c].0)))
                        .collect(),
                    kept: (0..ncol)
                        .map(|c| mean_of(t.iter().map(|e| e[c].1)))
                        .collect(),
                })
                .collect();
            let over_runs = |pick: fn(&RunColumns) -> &Vec<Option<f64>>| -> Vec<Option<f64>> {
                (0..ncol)
                    .map(|c| mean_of(runs.iter().map(|r| pick(r)[c])))
                    .collect()
            };
            let (error_px, kept) = (over_runs(|r| &r.error_px), over_runs(|r| &r.kept));
            let (error_diff_px, kept_diff) = if i == 0 {
                (vec![None; ncol], vec![None; ncol])
            } else {
                (
                    (0..ncol).map(|c| diff(&averaged[i], c, |p| p.0)).collect(),
                    (0..ncol).map(|c| diff(&averaged[i], c, |p| p.1)).collect(),
                )
            };
            ArmRow {
                name: arm.name.clone(),
                runs,
                error_px,
                kept,
                error_diff_px,
                kept_diff,
            }
        })
        .collect();
    let mut columns: Vec<String> = horizons.iter().map(|h| format!("h{h}")).collect();
    columns.push(MEAN_COLUMN.to_string());
    Ok(CompareReport {
        scenario: first.scenario.clone(),
        variant: first.variant.clone(),
        episodes,
        columns,
        reference: arms[0].name.clone(),
        arms: rows,
        command: Vec::new(),
    })
}

impl CompareReport {
    /// Markdown: one table for the error and one for the kept share; each cell
    /// the arm's mean (its runs' values in parentheses when several) and, for
    /// every arm but the reference, the paired difference with its interval.
    pub fn to_markdown(&self) -> String {
        format!(
            "# Model comparison: {} `{}`, {} episodes\n\n{}",
            self.scenario,
            self.variant,
            self.episodes,
            self.tables_markdown()
        )
    }

    /// The body of [`CompareReport::to_markdown`] without its title, for
    /// pages that embed it (`somnium results`).
    pub fn tables_markdown(&self) -> String {
        let mut out = format!(
            "Reference arm: `{}`. Cells: the arm's mean (each run's in parentheses) and below it the paired difference against the reference, episode by episode, with its bootstrap 95% interval.\n",
            self.reference
        );
        for (title, digits, value, runs, diff) in [
            (
                "Centroid error (px; lower is better)",
                2usize,
                (|a: &ArmRow| a.error_px.clone()) as fn(&ArmRow) -> Vec<Option<f64>>,
                (|r: &RunColumns| r.error_px.clone()) as fn(&RunColumns) -> Vec<Option<f64>>,
                (|a: &ArmRow| a.error_diff_px.clone()) as fn(&ArmRow) -> Vec<Option<Interval>>,
            ),
            (
                "Objects kept (mask IoU >= 0.5; higher is better)",
                3,
                |a: &ArmRow| a.kept.clone(),
                |r: &RunColumns| r.kept.clone(),
                |a: &ArmRow| a.kept_diff.clone(),
            ),
        ] {
            out.push_str(&format!("\n**{title}**\n\n| arm | runs |"));
            for c in &self.columns {
                out.push_str(&format!(" {c} |"));
            }
            out.push_str("\n|---|---:|");
            out.push_str(&"---:|".repeat(self.columns.len()));
            out.push('\n');
            let show = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.digits$}"));
            for arm in &self.arms {
                out.push_str(&format!("| {} | {} |", arm.name, arm.runs.len()));
                let per_run: Vec<Vec<Option<f64>>> = arm.runs.iter().map(runs).collect();
                for (c, (v, d)) in value(arm).into_iter().zip(diff(arm)).enumerate() {
                    let mut cell = show(v);
                    if per_run.len() > 1 {
                        let each: Vec<String> = per_run.iter().map(|r| show(r[c])).collect();
                        cell.push_str(&format!(" ({})", each.join(", ")));
                    }
                    if let Some(d) = d {
                        cell.push_str(&format!("<br>{}", d.show(digits)));
                    }
                    out.push_str(&format!(" {cell} |"));
                }
                out.push('\n');
            }
        }
        out
    }
}
