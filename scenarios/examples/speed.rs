//! Measures `step + render` per second on one thread for each scenario at 64x64.
//!
//! `cargo run --release -p somnium-scenarios --example speed`

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use somnium_scenarios::{make, SCENARIO_IDS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for id in SCENARIO_IDS {
        let mut s = make(id, "id")?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let steps = 3000;
        let (mut done, mut bytes) = (0usize, 0usize);
        let start = Instant::now();
        let mut seed = 0;
        s.reset(seed);
        while done < steps {
            let a = s.action_space().sample(&mut rng);
            let t = s.step(&a)?;
            bytes += s.render(64, 64).data.len();
            done += 1;
            if t.terminated {
                seed += 1;
                s.reset(seed);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let mut render_only = 0.0;
        let t0 = Instant::now();
        for _ in 0..steps {
            render_only += s.render(64, 64).data[0] as f64;
        }
        let r = t0.elapsed().as_secs_f64();
        println!(
            "{id:14} step+render {:8.0}/s   render only {:8.0}/s   ({bytes} bytes, {render_only})",
            steps as f64 / secs,
            steps as f64 / r
        );
    }
    Ok(())
}
