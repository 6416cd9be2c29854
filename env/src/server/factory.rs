//! The factory that builds a world's env from its settings: physics worlds from
//! the registered scenarios, dream worlds from a model in the server's models
//! directory, loaded once and shared by every world that dreams with it
//! ([`ModelCache`]).

use std::sync::Arc;

use candle_core::Device;

use super::error::from_make_error;
use super::model_cache::ModelCache;
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
