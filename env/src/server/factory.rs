//! How a world's env is built from its settings ([`EnvFactory`]): physics
//! worlds from the registered scenarios, dream worlds from a model in the
//! server's models directory.
//!
//! Dream models are loaded once and shared ([`ModelCache`]): a [`DreamModel`] is
//! immutable weights and a codec behind `Arc`s, and everything that changes
//! while dreaming (the context, the past actions, the noise streams, the
//! key/value cache of a step) lives in each world's own [`DreamEnv`]. The cache
//! holds only weak references, so a model is freed when the last world that
//! uses it ends, and loaded again by the next world that asks for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use candle_core::Device;

use super::error::from_make_error;
use super::settings::{Backend, WorldSettings};
use super::ServerError;
use crate::envspec::{EnvKind, EnvString};
use crate::{Action, DreamEnv, DreamModel, Env, EnvError, EnvSpec, Info, Observation};
use crate::{ObservationSpace, Space, Step};

/// Builds the env of a new world from its settings. Runs on the world's own
/// thread; a dream world's `model` is already a canonical checkpoint path
/// inside the models directory (see [`super::ServerConfig::models_dir`]).
pub type EnvFactory =
    Arc<dyn Fn(&WorldSettings) -> Result<Box<dyn Env>, ServerError> + Send + Sync>;

/// Physics worlds from the registered scenarios, and dream worlds on the CPU
/// whose models are shared through a cache of this factory's own.
pub fn default_factory() -> EnvFactory {
    factory_with_cache(ModelCache::new(Device::Cpu))
}

/// As [`default_factory`], sharing models through `cache` (whose counters
/// tell how many models are loaded and how often one was).
pub fn factory_with_cache(cache: Arc<ModelCache>) -> EnvFactory {
    Arc::new(move |settings: &WorldSettings| match &settings.backend {
        Backend::Physics => {
            let spec = EnvString {
                kind: EnvKind::Physics,
                scenario: settings.scenario.clone(),
                variant: settings.variant.clone(),
            };
            let size = (settings.height.unwrap_or(64), settings.width.unwrap_or(64));
            let env = spec.build_physics(Some(size)).map_err(from_make_error)?;
            Ok(Box::new(env) as Box<dyn Env>)
        }
        Backend::Dream { model } => {
            let model = cache.get(model).map_err(from_make_error)?;
            let env = DreamEnv::make(&settings.scenario, &settings.variant, (*model).clone())
                .map_err(|e| match e {
                    EnvError::BadConfig(reason) => ServerError::BadSetting {
                        name: "model".into(),
                        reason,
                    },
                    other => from_make_error(other),
                })?;
            let (height, width) = env.frame_size();
            for (name, asked, has) in [
                ("width", settings.width, width),
                ("height", settings.height, height),
            ] {
                if asked.is_some_and(|a| a != has) {
                    return Err(ServerError::BadSetting {
                        name: name.into(),
                        reason: format!(
                            "the model dreams {width}x{height} frames; leave width and height out"
                        ),
                    });
                }
            }
            Ok(Box::new(SharedDream { env, _model: model }) as Box<dyn Env>)
        }
    })
}

/// A dream env that keeps its shared model alive in the cache while it lives.
struct SharedDream {
    env: DreamEnv,
    _model: Arc<DreamModel>,
}

impl Env for SharedDream {
    fn reset(&mut self, seed: Option<u64>) -> Result<(Observation, Info), EnvError> {
        self.env.reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step, EnvError> {
        self.env.step(action)
    }
    fn observation_space(&self) -> ObservationSpace {
        self.env.observation_space()
    }
    fn action_space(&self) -> Space {
        self.env.action_space()
    }
    fn spec(&self) -> EnvSpec {
        self.env.spec()
    }
}

/// One model's place in the cache. Its lock is held while the model loads, so
/// worlds that ask for it meanwhile wait and then share that load.
type Slot = Arc<Mutex<Weak<DreamModel>>>;

/// Dream models shared between worlds, keyed by canonical path (see the
/// module docs).
pub struct ModelCache {
    device: Device,
    slots: Mutex<HashMap<PathBuf, Slot>>,
    loads: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A load that panicked leaves a dead weak reference behind: still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ModelCache {
    /// An empty cache that loads models on `device`.
    pub fn new(device: Device) -> Arc<Self> {
        Arc::new(ModelCache {
            device,
            ..ModelCache::default()
        })
    }

    /// The model at `path`: the copy some world already uses, or a new load.
    pub fn get(&self, path: &Path) -> Result<Arc<DreamModel>, EnvError> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let slot = {
            let mut slots = lock(&self.slots);
            // forget models no world uses any more (a slot being loaded is kept)
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.try_lock().is_ok_and(|w| w.strong_count() > 0)
            });
            slots.entry(key.clone()).or_default().clone()
        };
        let mut weak = lock(&slot);
        if let Some(model) = weak.upgrade() {
            return Ok(model);
        }
        let model = Arc::new(DreamModel::load(&key, &self.device)?);
        self.loads.fetch_add(1, Ordering::Relaxed);
        *weak = Arc::downgrade(&model);
        Ok(model)
    }

    /// How many times a model was loaded from disk.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// How many models are loaded now (used by at least one world).
    pub fn live(&self) -> usize {
        let slots: Vec<Slot> = lock(&self.slots).values().cloned().collect();
        slots.iter().filter(|s| lock(s).strong_count() > 0).count()
    }
}

impl Default for ModelCache {
    fn default() -> Self {
        ModelCache {
            device: Device::Cpu,
            slots: Mutex::new(HashMap::new()),
            loads: AtomicUsize::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::tiny_models_dir;
    use super::*;

    /// The frames of `envs` stepped in turn (one step each, round robin) from `seed`.
    fn frames(envs: &mut [&mut DreamEnv], seed: u64) -> Vec<Vec<Vec<u8>>> {
        let mut out: Vec<Vec<Vec<u8>>> = envs
            .iter_mut()
            .map(|e| vec![e.reset(Some(seed)).unwrap().0.frame.data])
            .collect();
        for i in 0..3 {
            let a = Action::Continuous(vec![0.25 * i as f32, -0.5]);
            for (env, frames) in envs.iter_mut().zip(&mut out) {
                frames.push(env.step(&a).unwrap().obs.frame.data);
            }
        }
        out
    }

    #[test]
    fn worlds_of_one_model_share_one_load_and_free_it_with_the_last() {
        let models = tiny_models_dir();
        let tiny = models.path().join("models/tiny");
        let cache = ModelCache::new(Device::Cpu);
        let a = cache.get(&tiny).unwrap();
        let b = cache.get(&tiny.join(".")).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one path, one model");
        assert_eq!((cache.loads(), cache.live()), (1, 1));
        let other = cache.get(&models.path().join("models/other")).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!((cache.loads(), cache.live()), (2, 2));
        drop((a, other));
        assert_eq!(cache.live(), 1, "b still uses tiny");
        drop(b);
        assert_eq!(cache.live(), 0);
        let again = cache.get(&tiny).unwrap();
        assert_eq!(
            (cache.loads(), cache.live()),
            (3, 1),
            "a freed model loads again"
        );
        drop(again);
        assert!(cache.get(&models.path().join("models/empty")).is_err());
    }

    #[test]
    fn a_shared_model_dreams_what_its_own_copy_dreams() {
        let models = tiny_models_dir();
        let tiny = models.path().join("models/tiny");
        let cache = ModelCache::new(Device::Cpu);
        let shared = cache.get(&tiny).unwrap();
        let mut one = DreamEnv::make("bounce-v0", "id", (*shared).clone()).unwrap();
        let mut two = DreamEnv::make("bounce-v0", "id", (*shared).clone()).unwrap();
        let own = DreamModel::load(&tiny, &Device::Cpu).unwrap();
        let mut alone = DreamEnv::make("bounce-v0", "id", own).unwrap();
        let expected = frames(&mut [&mut alone], 5).remove(0);
        // two envs stepping one model in turn dream what a model of their own does
        let both = frames(&mut [&mut one, &mut two], 5);
        assert_eq!(both, vec![expected.clone(), expected.clone()]);
        assert_ne!(frames(&mut [&mut two], 6)[0], expected, "the seed matters");
    }
}
