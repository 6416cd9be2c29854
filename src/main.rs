//! The `somnium` command line. Each subcommand lives in its own module under
//! `src/cli/`; this file only parses arguments and dispatches.

use clap::{Parser, Subcommand};

mod cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// somnium: a world-model simulation environment. Record physics, train a
/// spacetime DiT on it, dream, and check every dream against the ground truth.
#[derive(Parser)]
#[command(name = "somnium", version, about, long_about = None)]
struct Cli {
    /// Let a model dream a scenario, variant, action space or control rate
    /// other than the one its checkpoint records (the same as setting
    /// SOMNIUM_ALLOW_MODEL_MISMATCH=1). Refused without it, by name.
    #[arg(long, global = true)]
    allow_model_mismatch: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios with their spaces and variants.
    Scenarios(cli::scenarios::Args),
    /// Render an episode of a scenario to a GIF.
    Render(cli::render::Args),
    /// Record episodes of a scenario into dataset shards.
    Record(cli::record::Args),
    /// Serve every scenario as a world over gRPC (DeepMind's dm_env_rpc protocol).
    Serve(cli::serve::Args),
    /// Train the world model (spacetime DiT) on a recorded dataset.
    Train(cli::train::Args),
    /// Train the learned frame codec (convolutional autoencoder) on a dataset.
    TrainCodec(cli::train_codec::Args),
    /// Make a run's checkpoint a model to ship: EMA weights only, optional K.
    Export(cli::export::Args),
    /// Train an agent (PPO) in an env, with periodic evaluations and a returns plot.
    TrainAgent(cli::train_agent::Args),
    /// Evaluate a policy over seeded episodes in one env, or two side by side.
    EvalAgent(cli::eval_agent::Args),
    /// Open a rollout in the Bevy viewer (needs `cargo build --release -p somnium-viewer`).
    View(cli::view::Args),
    /// Dream next to physics in lockstep; write a rollout and a side-by-side GIF.
    Dream(cli::dream::Args),
    /// The physics-consistency benchmark of a model: report, plots and GIFs.
    Eval(cli::eval::Args),
    /// The benchmark for any world model: export tasks, score a predictions file.
    Benchmark(cli::benchmark::Args),
    /// Run the shipped bounce model against physics and print the key numbers.
    Demo(cli::demo::Args),
    /// Speed figures of the world model (JSON with --json), beside a PyTorch peer with --peer.
    Bench(cli::bench::Args),
    /// Write docs/results.md from the reports in reports/ (--check: fail if it is stale).
    Results(cli::results::Args),
}

fn main() -> anyhow::Result<()> {
    somnium::runtime::tune();
    let cli = Cli::parse();
    if cli.allow_model_mismatch {
        // Before any thread starts: the env crate reads it where a dream is made.
        std::env::set_var(somnium_env::ALLOW_MISMATCH_ENV, "1");
    }
    match cli.command {
        Command::Scenarios(a) => cli::scenarios::run(a),
        Command::Render(a) => cli::render::run(a),
        Command::Record(a) => cli::record::run(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::TrainCodec(a) => cli::train_codec::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::TrainAgent(a) => cli::train_agent::run(a),
        Command::EvalAgent(a) => cli::eval_agent::run(a),
        Command::View(a) => cli::view::run(a),
        Command::Dream(a) => cli::dream::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::Benchmark(a) => cli::benchmark::run(a),
        Command::Demo(a) => cli::demo::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Results(a) => cli::results::run(a),
    }
}
