//! `somnium render`: runs a scenario under a policy and writes the episode as a
//! GIF a person can look at.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_env::gif_out::write_gif;
use somnium_env::record::BehaviourPolicy;
use somnium_env::{Env, PhysicsEnv};

use super::scenarios::ScenarioChoice;

/// Arguments of `somnium render`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioChoice,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most control steps to render (the episode may end sooner).
    #[arg(long, default_value_t = 90)]
    pub steps: usize,
    /// Behaviour policy, as for `record`: `random[:HOLD]`, `scripted[:EPS[:HOLD]]`.
    #[arg(long, default_value = "scripted")]
    pub policy: String,
    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Upscale factor of the GIF (nearest-neighbour).
    #[arg(long, default_value_t = 4)]
    pub scale: usize,
    /// Output GIF path.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `somnium render`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let policy = BehaviourPolicy::parse(&args.policy)?;
    somnium_files::claim_file(&args.out, &somnium_files::OutputKind::GIF)
        .map_err(|e| anyhow::anyhow!("--out {e}"))?;
    let scenario = (args.scenario.factory()?)()?;
    let mut env = PhysicsEnv::new(scenario, args.size, args.size)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    rng.set_stream(1);
    let (obs, _) = env.reset(Some(args.seed))?;
    let mut frames = vec![obs.frame];
    let (mut total_reward, mut end) = (0.0f64, "step budget");
    let mut actor = policy.actor();
    for _ in 0..args.steps {
        let action = actor.act(&env, &mut rng);
        let step = env.step(&action)?;
        total_reward += f64::from(step.reward);
        frames.push(step.obs.frame);
        if step.terminated {
            end = "terminated";
            break;
        }
        if step.truncated {
            end = "time limit";
            break;
        }
    }
    let spec = env.spec();
    write_gif(&args.out, &frames, args.scale, spec.render_fps())?;
    println!(
        "{} ({}) seed {}: {} steps ({end}), return {total_reward:.3}, {} frames of {}x{} at {} Hz -> {}",
        spec.id,
        spec.variant,
        args.seed,
        frames.len() - 1,
        frames.len(),
        args.size * args.scale.max(1),
        args.size * args.scale.max(1),
        spec.control_hz,
        args.out.display()
    );
    Ok(())
}
