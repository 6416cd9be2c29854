//! The registry of live worlds: names, who created and who joined each world,
//! and the channel to its thread. Its lock guards only this map and is never
//! held across an await or while an env works. It starts each world's thread
//! and, when [`World::run`] returns, forgets the world as its [`WorldEnd`] says.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use super::error::ServerError;
use super::factory::EnvFactory;
use super::models_dir::ModelsDir;
use super::proto::ActionObservationSpecs;
use super::settings::{Backend, WorldSettings};
use super::world::{World, WorldCommand, WorldEnd};
use super::ServerConfig;

/// How many names of idle-freed worlds are remembered (to explain a later request).
const EXPIRED_MEMORY: usize = 1024;

/// A world as the registry sees it.
pub(crate) struct WorldEntry {
    pub commands: mpsc::Sender<WorldCommand>,
    pub specs: Arc<ActionObservationSpecs>,
    pub created_by: u64,
    pub joined_by: Option<u64>,
}

#[derive(Default)]
struct Inner {
    worlds: HashMap<String, WorldEntry>,
    /// Worlds being built (they count against the limit).
    pending: usize,
    expired: VecDeque<String>,
}

/// A reserved place for a world being built; freed on drop (also when the
/// request that builds it is cancelled).
struct PendingSlot<'a>(&'a Registry);

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        self.0.lock().pending -= 1;
    }
}

/// Counts a world thread from its start to its end (its env dropped).
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every live world of one server.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    max_worlds: usize,
    idle_timeout: Duration,
    factory: EnvFactory,
    models: ModelsDir,
    next_world: AtomicU64,
    running: Arc<AtomicUsize>,
}

impl Registry {
    pub fn new(config: &ServerConfig, factory: EnvFactory) -> Arc<Self> {
        Arc::new(Registry {
            inner: Mutex::new(Inner::default()),
            max_worlds: config.max_worlds,
            idle_timeout: config.idle_timeout,
            factory,
            models: ModelsDir::new(config.models_dir.clone()),
            next_world: AtomicU64::new(1),
            running: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the map consistent
        // (every update is a single insert or remove), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of live worlds.
    pub fn world_count(&self) -> usize {
        self.lock().worlds.len()
    }

    /// Number of world threads still running (a freed world's thread ends
    /// shortly after the registry forgets it; its env is dropped by then).
    pub fn running_worlds(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Build a world from `settings` on its own thread; returns its unique name.
    /// A dream world's model is looked up in the models directory first, and
    /// errors from loading it never show the directory's server path.
    pub async fn create(
        self: &Arc<Self>,
        settings: WorldSettings,
        session: u64,
    ) -> Result<String, ServerError> {
        let model_name = match &settings.backend {
            Backend::Dream { model } => Some(model.to_string_lossy().into_owned()),
            Backend::Physics => None,
        };
        let settings = self.models.resolve_settings(settings)?;
        let created = self.create_resolved(settings, session).await;
        match (created, model_name) {
            (Err(e), Some(name)) => Err(self.models.scrub(e, &name)),
            (created, _) => created,
        }
    }

    async fn create_resolved(
        self: &Arc<Self>,
        settings: WorldSettings,
        session: u64,
    ) -> Result<String, ServerError> {
        {
            let mut inner = self.lock();
            if inner.worlds.len() + inner.pending >= self.max_worlds {
                return Err(ServerError::TooManyWorlds(self.max_worlds));
            }
            inner.pending += 1;
        }
        let slot = PendingSlot(self);
        let result = self.spawn_world(settings).await;
        drop(slot);
        let (name, commands, specs) = result?;
        let mut inner = self.lock();
        inner.worlds.insert(
            name.clone(),
            WorldEntry {
                commands,
                specs,
                created_by: session,
                joined_by: None,
            },
        );
        Ok(name)
    }

    async fn spawn_world(
        self: &Arc<Self>,
        settings: WorldSettings,
    ) -> Result<
        (
            String,
            mpsc::Sender<WorldCommand>,
            Arc<ActionObservationSpecs>,
        ),
        ServerError,
    > {
        let name = format!(
            "{}-{}",
            settings.scenario,
            self.next_world.fetch_add(1, Ordering::Relaxed)
        );
        let (commands, receiver) = mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let factory = self.factory.clone();
        let registry = Arc::downgrade(self);
        let idle_timeout = self.idle_timeout;
        let thread_name = name.clone();
        let running = self.running.clone();
        std::thread::Builder::new()
            .name(format!("world {name}"))
            .spawn(move || {
                let _running = Running::start(&running);
                let built =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| factory(&settings)));
                let env = match built {
                    Ok(Ok(env)) => env,
                    Ok(Err(e)) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                    Err(_) => {
                        let _ = ready_tx.send(Err(ServerError::WorldFailed {
                            world: thread_name,
                            reason: "building the env panicked".into(),
                        }));
                        return;
                    }
                };
                let world = World::new(thread_name, env, settings.seed);
                let specs = Arc::new(world.specs().clone());
                if ready_tx.send(Ok(specs)).is_err() {
                    return;
                }
                let name = world.name().to_string();
                let end = world.run(receiver, idle_timeout);
                if let Some(registry) = registry.upgrade() {
                    match end {
                        WorldEnd::Idle => registry.expire(&name),
                        WorldEnd::Failed => registry.remove(&name),
                        WorldEnd::Stopped => {}
                    }
                }
            })?;
        let specs = ready_rx.await.map_err(|_| ServerError::WorldFailed {
            world: name.clone(),
            reason: "the world thread ended before the env was built".into(),
        })??;
        Ok((name, commands, specs))
    }

    /// Why `name` is not a live world.
    pub fn missing(&self, name: &str) -> ServerError {
        if self.lock().expired.iter().any(|n| n == name) {
            ServerError::WorldExpired(name.to_string())
        } else {
            ServerError::UnknownWorld(name.to_string())
        }
    }

    /// Join `name` for `session`: one agent per world.
    pub fn join(
        &self,
        name: &str,
        session: u64,
    ) -> Result<(mpsc::Sender<WorldCommand>, Arc<ActionObservationSpecs>), ServerError> {
        let mut inner = self.lock();
        let Some(entry) = inner.worlds.get_mut(name) else {
            drop(inner);
            return Err(self.missing(name));
        };
        if entry.joined_by.is_some() {
            return Err(ServerError::WorldBusy(name.to_string()));
        }
        entry.joined_by = Some(session);
        Ok((entry.commands.clone(), entry.specs.clone()))
    }

    /// `session` leaves `name` (a no-op when it is gone).
    pub fn leave(&self, name: &str, session: u64) {
        if let Some(entry) = self.lock().worlds.get_mut(name) {
            if entry.joined_by == Some(session) {
                entry.joined_by = None;
                let _ = entry.commands.send(WorldCommand::Leave);
            }
        }
    }

    /// The command channel of `name`.
    pub fn commands(&self, name: &str) -> Result<mpsc::Sender<WorldCommand>, ServerError> {
        let found = self.lock().worlds.get(name).map(|e| e.commands.clone());
        found.ok_or_else(|| self.missing(name))
    }

    /// Destroy `name`, which no agent may have joined.
    pub fn destroy(&self, name: &str) -> Result<(), ServerError> {
        let mut inner = self.lock();
        match inner.worlds.get(name) {
            None => {
                drop(inner);
                Err(self.missing(name))
            }
            Some(e) if e.joined_by.is_some() => Err(ServerError::WorldInUse(name.to_string())),
            Some(_) => {
                if let Some(e) = inner.worlds.remove(name) {
                    let _ = e.commands.send(WorldCommand::Shutdown);
                }
                Ok(())
            }
        }
    }

    /// Called by a world thread that was idle too long: forget it, remember why.
    pub fn expire(&self, name: &str) {
        let mut inner = self.lock();
        if inner.worlds.remove(name).is_some() {
            if inner.expired.len() >= EXPIRED_MEMORY {
                inner.expired.pop_front();
            }
            inner.expired.push_back(name.to_string());
        }
    }

    /// Forget a world whose thread has ended.
    pub fn remove(&self, name: &str) {
        self.lock().worlds.remove(name);
    }

    /// A session ended (the client finished, died or was cut off): leave its
    /// world and destroy the worlds it created that no other agent has joined.
    pub fn session_closed(&self, session: u64) {
        let mut inner = self.lock();
        for entry in inner.worlds.values_mut() {
            if entry.joined_by == Some(session) {
                entry.joined_by = None;
                let _ = entry.commands.send(WorldCommand::Leave);
            }
        }
        let owned: Vec<String> = inner
            .worlds
            .iter()
            .filter(|(_, e)| e.created_by == session && e.joined_by.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for name in owned {
            if let Some(e) = inner.worlds.remove(&name) {
                let _ = e.commands.send(WorldCommand::Shutdown);
            }
        }
    }

    /// Stop every world (server shutdown).
    pub fn shutdown_all(&self) {
        let mut inner = self.lock();
        for (_, e) in inner.worlds.drain() {
            let _ = e.commands.send(WorldCommand::Shutdown);
        }
    }
}
