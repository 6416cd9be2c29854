//! The catalog of registered scenarios: every id with its named variants and
//! what each one is (control rate, render fps, time limit, arena size, how
//! success is judged: [`SuccessRule`]), read from the scenarios themselves. The CLI's
//! `somnium scenarios` and the env server report it, so clients (the Python
//! `somnium_client`) never keep a copy.

use serde::{Deserialize, Serialize};

use crate::{make, variants, Scenario, ScenarioError, SCENARIO_IDS};

/// How the success of an episode follows from the way it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessRule {
    /// The task has no goal (`bounce-v0`, `occlusion-v0`): no episode succeeds or fails.
    NoGoal,
    /// Reaching the goal ends the episode (`push-v0`, `reach-v0`): an episode
    /// succeeds when it terminated.
    Terminated,
    /// The task is to survive (`cartpole-v0`): an episode succeeds when the time
    /// limit cut it.
    TimeLimit,
}

impl SuccessRule {
    /// Whether an episode that ended this way succeeded: `terminated` when the
    /// scenario ended it, `time_limit` when the time limit cut it (neither when it
    /// was stopped early). `None` where the task has no goal.
    pub fn judge(self, terminated: bool, time_limit: bool) -> Option<bool> {
        match self {
            SuccessRule::NoGoal => None,
            SuccessRule::Terminated => Some(terminated),
            SuccessRule::TimeLimit => Some(time_limit && !terminated),
        }
    }
}

/// One named variant of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// The variant's name (`id`, `ood`, `coarse`, ...).
    pub name: String,
    /// Control steps per second.
    pub control_hz: f32,
    /// Frames per second of a video (one frame per control step).
    pub render_fps: f32,
    /// The env's time limit in steps (`None` for no limit).
    pub max_episode_steps: Option<u32>,
    /// The arena's inner width in metres, where the scenario has an arena.
    pub arena_size: Option<f32>,
}

impl VariantInfo {
    /// What `scenario` (built from a variant named `name`) reports about itself.
    pub fn of(scenario: &dyn Scenario, name: &str) -> Self {
        VariantInfo {
            name: name.to_string(),
            control_hz: scenario.control_hz(),
            render_fps: scenario.render_fps(),
            max_episode_steps: scenario.max_episode_steps(),
            arena_size: scenario.arena_size(),
        }
    }
}

/// One registered scenario and its variants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// The registered id, e.g. `push-v0`.
    pub id: String,
    /// How an episode's success is judged.
    pub success: SuccessRule,
    /// Every named variant, the in-distribution `id` first.
    pub variants: Vec<VariantInfo>,
}

/// What the named `variant` of scenario `id` is; an error names an unknown id or variant.
pub fn describe(id: &str, variant: &str) -> Result<VariantInfo, ScenarioError> {
    Ok(VariantInfo::of(make(id, variant)?.as_ref(), variant))
}

/// Every registered scenario with all its named variants, in [`SCENARIO_IDS`] order.
pub fn catalog() -> Vec<ScenarioInfo> {
    SCENARIO_IDS
        .iter()
        .filter_map(|id| {
            let built: Vec<(String, Box<dyn Scenario>)> = variants(id)
                .iter()
                .filter_map(|v| make(id, v).ok().map(|s| (v.to_string(), s)))
                .collect();
            let success = built.first()?.1.success_rule();
            Some(ScenarioInfo {
                id: id.to_string(),
                success,
                variants: built
                    .iter()
                    .map(|(name, s)| VariantInfo::of(s.as_ref(), name))
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant<'a>(cat: &'a [ScenarioInfo], id: &str, name: &str) -> &'a VariantInfo {
        let s = cat.iter().find(|s| s.id == id).unwrap();
        s.variants.iter().find(|v| v.name == name).unwrap()
    }

    #[test]
    fn success_follows_the_rule_and_the_way_an_episode_ended() {
        use SuccessRule::*;
        assert_eq!(NoGoal.judge(true, false), None);
        assert_eq!(Terminated.judge(true, false), Some(true));
        assert_eq!(Terminated.judge(false, true), Some(false));
        assert_eq!(TimeLimit.judge(false, true), Some(true));
        assert_eq!(TimeLimit.judge(true, false), Some(false));
        assert_eq!(TimeLimit.judge(false, false), Some(false));
    }

    #[test]
    fn the_catalog_lists_every_scenario_with_every_variant() {
        let cat = catalog();
        let ids: Vec<&str> = cat.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, SCENARIO_IDS);
        for s in &cat {
            let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(names, variants(&s.id), "{}", s.id);
            assert_eq!(names[0], "id");
        }
    }

    #[test]
    fn render_fps_is_the_control_rate_of_each_variant() {
        let cat = catalog();
        assert_eq!(variant(&cat, "push-v0", "id").render_fps, 15.0);
        assert_eq!(variant(&cat, "push-v0", "coarse").render_fps, 5.0);
        assert_eq!(variant(&cat, "push-v0", "large").render_fps, 5.0);
        assert_eq!(variant(&cat, "cartpole-v0", "id").render_fps, 50.0);
        assert_eq!(variant(&cat, "cartpole-v0", "coarse").render_fps, 12.5);
        for v in cat.iter().flat_map(|s| &s.variants) {
            assert_eq!(v.render_fps, v.control_hz, "{}", v.name);
        }
        assert_eq!(describe("push-v0", "coarse").unwrap().render_fps, 5.0);
        assert!(describe("push-v0", "huge").is_err());
    }

    #[test]
    fn success_and_arena_come_from_the_scenarios() {
        let cat = catalog();
        let rule = |id: &str| cat.iter().find(|s| s.id == id).unwrap().success;
        assert_eq!(rule("push-v0"), SuccessRule::Terminated);
        assert_eq!(rule("reach-v0"), SuccessRule::Terminated);
        assert_eq!(rule("cartpole-v0"), SuccessRule::TimeLimit);
        assert_eq!(rule("bounce-v0"), SuccessRule::NoGoal);
        assert_eq!(rule("occlusion-v0"), SuccessRule::NoGoal);
        assert_eq!(variant(&cat, "bounce-v0", "id").arena_size, Some(2.0));
        assert!(variant(&cat, "push-v0", "id").arena_size.is_some());
        assert_eq!(variant(&cat, "cartpole-v0", "id").arena_size, None);
    }
}
