//! A generated world loaded into its own analytics schema, plus the choices the tests share.

use conflict_core::{Exclusions, Window};
use conflict_io::analytics::AnalyticsSource;
use conflict_io::scope::{BatchScope, Scope};

use crate::support::load::AnalyticsDb;
use crate::support::world::{World, WorldConfig};

pub struct Loaded {
    pub cfg: WorldConfig,
    pub world: World,
    pub db: AnalyticsDb,
}

impl Loaded {
    /// The test-sized world of `seed`, loaded.
    pub fn new(seed: u64) -> Self {
        let cfg = WorldConfig::test(seed);
        let t0 = std::time::Instant::now();
        let world = World::generate(&cfg);
        let generated = t0.elapsed();
        let mut db = AnalyticsDb::create();
        let stats = db.load(&world);
        eprintln!(
            "generated the world in {generated:?}, loaded {} visits ({} rows) into {} in {:?}",
            stats.visits,
            stats.rows,
            db.schema(),
            stats.elapsed
        );
        Loaded { cfg, world, db }
    }

    pub fn window(&self) -> Window {
        self.cfg.window()
    }

    pub fn scope(&self, scope: Scope) -> BatchScope {
        BatchScope {
            window: self.window(),
            scope,
        }
    }

    /// A source over psqlODBC with the given pre-filter setting and small row sets: every
    /// read then spans several fetches (row offsets, buffer reuse) and temporary-table loads
    /// several inserts, as large batches do in production.
    pub fn source(&self, prefilter: bool) -> AnalyticsSource {
        let mut cfg = self.db.config(prefilter);
        cfg.fetch_rows = 1_000;
        cfg.detail_fetch_rows = 300;
        cfg.insert_rows = 700;
        AnalyticsSource::connect(cfg).unwrap_or_else(|e| panic!("connect through psqlODBC: {e}"))
    }

    /// A source with the configuration's default row-set sizes.
    pub fn default_source(&self, prefilter: bool) -> AnalyticsSource {
        AnalyticsSource::connect(self.db.config(prefilter))
            .unwrap_or_else(|e| panic!("connect through psqlODBC: {e}"))
    }

    /// Exclusions as the conflict store delivers them, with two quirks the source must cope
    /// with: one provider id in upper case, and SSN entries given padded (trimmed on the way
    /// in, matching caregiver records whose SSN is padded differently).
    pub fn exclusions(&self) -> Exclusions {
        let admitting = self.world.admitting_providers();
        let mut ex = Exclusions::default();
        // admitting[0] and [1] carry the hand-made edge cases; exclude two ordinary ones.
        ex.providers
            .insert(self.world.providers[admitting[2]].id.to_uppercase());
        ex.providers
            .insert(self.world.providers[admitting[3]].id.clone());
        let padded: Vec<String> = self
            .world
            .people
            .iter()
            .filter(|p| {
                p.records.len() >= 2
                    && p.records
                        .iter()
                        .any(|&(c, _)| self.world.caregivers[c].ssn.as_deref() != Some(&p.ssn))
            })
            .take(2)
            .map(|p| format!("  {}\t", p.ssn))
            .collect();
        assert_eq!(padded.len(), 2, "the world has people with padded SSNs");
        ex.add_ssns(padded.iter().map(String::as_str).chain(["   "]));
        assert_eq!(ex.ssns.len(), 2, "blank exclusion entries are ignored");
        ex
    }
}
