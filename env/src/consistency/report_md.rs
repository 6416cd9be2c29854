//! [`ConsistencyReport::to_markdown`]: the report as the tables a person reads
//! (report.md): the summary over steps 1 to 32, the verdicts with their paired
//! intervals, the long run, the ceiling, action following and counterfactual
//! fidelity, episode ends, collision timing and the per-horizon tables.

use somnium_world_model::metrics::{Interval, Stat};

use super::report::ConsistencyReport;

fn num(v: Option<f64>, d: usize) -> String {
    v.map_or("–".to_string(), |x| format!("{x:.d$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |x| format!("{:.1}%", 100.0 * x))
}

fn stat(s: Option<Stat>, d: usize) -> String {
    s.map_or("–".to_string(), |s| {
        format!("{:.d$} ± {:.d$}", s.mean, s.ci95)
    })
}

fn interval(i: Option<Interval>, d: usize) -> String {
    i.map_or("–".to_string(), |i| i.show(d))
}

impl ConsistencyReport {
    /// The report as Markdown tables a person reads.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Physics consistency: {} ({}), {} episodes\n\nPredictor `{}`: `{}`. Context {} frames, horizons up to {} steps, actions {}, seeds from {}.\n\n",
            self.scenario,
            self.variant,
            self.episodes,
            self.predictor,
            self.model.as_deref().unwrap_or("(none)"),
            self.context_frames,
            self.max_horizon,
            self.actions,
            self.seed
        );
        self.summary_markdown(&mut out);
        self.verdict_markdown(&mut out);
        let l = &self.long_run;
        out.push_str(&format!(
            "## Long run ({} predicted frames)\n\n| kept ≤ h32 | kept, all | kept, last 32 | median area ratio | in arena | background ratio |\n|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} |\n\n",
            l.frames,
            pct(l.kept_share_h32),
            pct(l.kept_share_all),
            pct(l.kept_share_last32),
            num(l.median_area_ratio, 2),
            pct(l.in_arena_share),
            num(l.background_ratio, 3)
        ));
        out.push_str(&format!(
            "## Ceiling: physics rerun with each object nudged by {:.1e} of the arena ({:.2e} m)\n\n| horizon | {} error (px) | perturbed physics (px) | {} / ceiling |\n|---:|---:|---:|---:|\n",
            self.perturbation_fraction, self.perturbation_m, self.predictor, self.predictor
        ));
        for c in &self.ceiling {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.horizon,
                stat(c.model_error_px, 2),
                stat(c.perturbed_error_px, 2),
                num(c.model_over_ceiling, 1)
            ));
        }
        self.action_markdown(&mut out);
        if let Some(e) = &self.episode_ends {
            out.push_str(&e.to_markdown());
            out.push('\n');
        }
        let collisions = self.horizons.collision_markdown();
        if !collisions.is_empty() {
            out.push_str("## Collision timing\n\n");
            out.push_str(&collisions);
        }
        out.push_str("## Per horizon (mean ± 95% interval over episodes)\n\n");
        out.push_str(&self.horizons.horizon_markdown());
        out
    }

    /// Every method's means over steps 1 to 32.
    fn summary_markdown(&self, out: &mut String) {
        let steps = self.summary.first().map_or(0, |s| s.summary.steps);
        let scale = self
            .metres_per_px
            .map_or("scale unknown".to_string(), |m| format!("{m:.4} m/px"));
        out.push_str(&format!(
            "## Summary (per episode the mean over every step 1 to {steps}, then over episodes)\n\n\
             Kept: mask IoU with the true object at least 0.5. A missed object counts {:.1} px of \
             centroid error. Sharpness: gradient energy over the truth's (below 1: soft).\n\n\
             | method | centroid error (px) | position error (m, {scale}) | kept | mean IoU | missed | PSNR (dB) | SSIM | sharpness | velocity error (px/step) | count preserved |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.horizons.miss_penalty_px
        ));
        for m in &self.summary {
            let s = &m.summary;
            let name = if m.name == self.predictor {
                format!("**{}**", m.name)
            } else {
                m.name.clone()
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                stat(s.centroid_error_px, 2),
                stat(s.centroid_error_m, 4),
                pct(s.kept_share),
                num(s.mean_iou, 2),
                pct(s.miss_rate),
                num(s.psnr_db.map(|p| p.mean), 1),
                num(s.ssim.map(|p| p.mean), 3),
                num(s.sharpness.map(|p| p.mean), 2),
                stat(s.velocity_error_px, 2),
                pct(s.count_preserved),
            ));
        }
        out.push('\n');
    }

    /// The verdicts: the predictor against each method, with the paired intervals.
    fn verdict_markdown(&self, out: &mut String) {
        if self.verdicts.is_empty() {
            return;
        }
        out.push_str(&format!(
            "## Verdicts: {} against each method\n\n\
             Paired bootstrap 95% intervals over episodes of {} minus the method, per episode \
             the mean over every step 1 to {}. \"Beats\" needs the error interval below zero, the \
             kept share not worse, no horizon worse and sharp frames.\n\n\
             | against | episodes | error difference (px) | kept difference | beats | why |\n|---|---:|---:|---:|:---:|---|\n",
            self.predictor,
            self.predictor,
            self.verdicts[0].steps
        ));
        for v in &self.verdicts {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                v.baseline,
                v.episodes,
                interval(v.error_diff_px, 2),
                interval(v.kept_diff, 3),
                if v.beats { "**yes**" } else { "no" },
                v.why.replace('|', "/")
            ));
        }
        out.push('\n');
    }

    /// Action following and counterfactual fidelity.
    fn action_markdown(&self, out: &mut String) {
        out.push_str("\n## Action following\n\n");
        match &self.action_following {
            Some(a) => out.push_str(&format!(
                "Two opposite constant actions for {} steps; distance between the `{}` outcomes.\n\n| physics response (px) | dream response (px) | dream / physics | relative error | within 25% |\n|---:|---:|---:|---:|:---:|\n| {} | {} | {} | {} | {} |\n\n",
                a.horizon,
                a.object,
                stat(a.physics_response_px, 2),
                stat(a.dream_response_px, 2),
                num(a.ratio, 2),
                pct(a.relative_error),
                if a.within_25pct { "yes" } else { "no" }
            )),
            None => out.push_str("Not measured.\n\n"),
        }
        if let Some(c) = &self.counterfactual {
            let ci = c
                .r_ci95
                .map_or("–".to_string(), |[lo, hi]| format!("[{lo:.2}, {hi:.2}]"));
            out.push_str(&format!(
                "## Counterfactual action fidelity\n\n\
                 From each of {} states, {} pairs of random action sequences of {} steps; the \
                 `{}`'s end-position difference under the two, dreamed against physical. r: pooled \
                 correlation of the difference components (1: the dream responds as physics does).\n\n\
                 | pairs | r | r 95% interval | slope | median relative error | physics difference (px) | dream difference (px) | dream lost the object |\n\
                 |---:|---:|---:|---:|---:|---:|---:|---:|\n\
                 | {} | {} | {ci} | {} | {} | {} | {} | {} |\n\n",
                c.states,
                c.pairs_per_state,
                c.horizon,
                c.object,
                c.pairs,
                num(c.r, 2),
                num(c.slope, 2),
                pct(c.median_relative_error),
                stat(c.physics_difference_px, 2),
                stat(c.dream_difference_px, 2),
                c.dream_lost,
            ));
        }
        if let Some(p) = &self.permanence {
            out.push_str(&format!(
                "## Object permanence\n\n\
                 Events where the truth hides an object and shows it again within the horizon; \
                 one passes when the prediction hides it too and shows it again within {} steps \
                 of the truth, within {} px of it {} steps later, and never as two blobs.\n\n{}\n\n\
                 | events | passed | median return-step error | median place error (px) |\n\
                 |---:|---:|---:|---:|\n\
                 | {} | {} | {} | {} |\n\n",
                super::permanence::STEP_TOLERANCE,
                super::permanence::PLACE_TOLERANCE_PX,
                super::permanence::SETTLE_STEPS,
                p.line(),
                p.events,
                p.passed,
                num(p.median_step_error, 1),
                num(p.median_place_error_px, 2),
            ));
        }
    }
}
