//! [`evaluate`]: seeded evaluation episodes of a policy in an env (physics or
//! dream), summarised as returns, success and termination causes ([`EvalSummary`]).

use serde::Serialize;
use somnium_env::DoneReason;
use somnium_scenarios::SuccessRule;

use crate::policy::Policy;
use crate::{AgentError, EnvTarget, EvalOptions, Evaluator};

/// One evaluation episode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpisodeResult {
    pub seed: u64,
    pub episode_return: f32,
    pub length: u32,
    /// Whether the task was achieved (see [`success_of`]); `None` where the
    /// scenario has no notion of success.
    pub success: Option<bool>,
    pub done_reason: Option<DoneReason>,
}

/// Episodes of one policy in one env, with their statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalSummary {
    pub env: String,
    pub policy: String,
    pub episodes: Vec<EpisodeResult>,
    pub mean_return: f32,
    pub std_return: f32,
    pub mean_length: f32,
    /// Fraction of successful episodes, where success is defined.
    pub success_rate: Option<f32>,
    /// Episodes that ended in a terminal state.
    pub terminated: usize,
    /// Episodes cut by the time limit.
    pub time_limit: usize,
}

/// Whether an episode that ended for `reason` succeeded under the scenario's
/// `rule` ([`somnium_scenarios::Scenario::success_rule`]: cartpole survives to the
/// time limit, push and reach terminate on reaching their goal); `None` where the
/// scenario has no goal (bounce, occlusion).
pub fn success_of(rule: SuccessRule, reason: Option<DoneReason>) -> Option<bool> {
    rule.judge(
        reason == Some(DoneReason::Terminated),
        reason == Some(DoneReason::TimeLimit),
    )
}

/// Run `episodes` episodes of `policy` in `target` (episode `k` from seed
/// `seed + k`), `parallel` envs at a time; physics renders `frame_size` frames
/// (dreams the model's). See [`Evaluator`] for more control.
pub fn evaluate(
    policy: &mut dyn Policy,
    target: &EnvTarget,
    frame_size: usize,
    episodes: usize,
    seed: u64,
    parallel: usize,
) -> Result<EvalSummary, AgentError> {
    let options = EvalOptions {
        frame_size: Some((frame_size, frame_size)),
        parallel: parallel.clamp(1, episodes.max(1)),
        ..EvalOptions::default()
    };
    Evaluator::new(target, options)?.evaluate(policy, episodes, seed)
}

/// Statistics of `episodes` of `policy` in `env`.
pub fn summarise(env: String, policy: String, episodes: Vec<EpisodeResult>) -> EvalSummary {
    let n = episodes.len().max(1) as f32;
    let mean = episodes.iter().map(|e| e.episode_return).sum::<f32>() / n;
    let var = episodes
        .iter()
        .map(|e| (e.episode_return - mean).powi(2))
        .sum::<f32>()
        / n;
    let successes: Vec<bool> = episodes.iter().filter_map(|e| e.success).collect();
    let count = |r: DoneReason| episodes.iter().filter(|e| e.done_reason == Some(r)).count();
    EvalSummary {
        env,
        policy,
        mean_return: mean,
        std_return: var.sqrt(),
        mean_length: episodes.iter().map(|e| e.length as f32).sum::<f32>() / n,
        success_rate: (!successes.is_empty())
            .then(|| successes.iter().filter(|s| **s).count() as f32 / successes.len() as f32),
        terminated: count(DoneReason::Terminated),
        time_limit: count(DoneReason::TimeLimit),
        episodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RandomPolicy, ScriptedPolicy};

    #[test]
    fn evaluation_is_seeded_and_ranks_the_expert_above_random() {
        let target = EnvTarget::parse("physics:cartpole-v0").unwrap();
        let random = evaluate(&mut RandomPolicy::new(0), &target, 1, 6, 100, 4).unwrap();
        let again = evaluate(&mut RandomPolicy::new(0), &target, 1, 6, 100, 4).unwrap();
        assert_eq!(random, again);
        assert_eq!(random.episodes.len(), 6);
        assert_eq!(random.episodes[5].seed, 105);
        assert_eq!(random.terminated + random.time_limit, 6);
        let expert = evaluate(&mut ScriptedPolicy::new(0), &target, 1, 4, 100, 2).unwrap();
        assert!(expert.mean_return > 3.0 * random.mean_return);
        assert!(expert.success_rate.unwrap() > random.success_rate.unwrap());
    }

    #[test]
    fn success_is_judged_by_the_rule_the_scenario_reports() {
        let rule = |s: &str| EnvTarget::parse(s).unwrap().success_rule().unwrap();
        assert_eq!(rule("physics:cartpole-v0@coarse"), SuccessRule::TimeLimit);
        assert_eq!(rule("physics:push-v0@coarse"), SuccessRule::Terminated);
        assert_eq!(rule("physics:reach-v0"), SuccessRule::Terminated);
        assert_eq!(rule("physics:bounce-v0"), SuccessRule::NoGoal);
        let time_limit = Some(DoneReason::TimeLimit);
        assert_eq!(success_of(SuccessRule::TimeLimit, time_limit), Some(true));
        assert_eq!(success_of(SuccessRule::Terminated, time_limit), Some(false));
        let terminated = Some(DoneReason::Terminated);
        assert_eq!(success_of(SuccessRule::Terminated, terminated), Some(true));
        assert_eq!(success_of(SuccessRule::NoGoal, terminated), None);
    }

    /// Episodes that end early (push succeeds at different steps) leave their slot
    /// in the batch: the expert must still be able to act on the whole batch.
    #[test]
    fn the_push_expert_succeeds_when_episodes_end_at_different_steps() {
        let target = EnvTarget::parse("physics:push-v0@coarse").unwrap();
        let expert = evaluate(&mut ScriptedPolicy::new(0), &target, 1, 8, 0, 4).unwrap();
        let lengths: Vec<u32> = expert.episodes.iter().map(|e| e.length).collect();
        assert!(lengths.iter().any(|&l| l != lengths[0]), "{lengths:?}");
        assert!(expert.success_rate.unwrap() >= 0.75, "{expert:?}");
    }
}
