use conflict_core::admit::admit;
use conflict_core::pairing::{pair_batch, Batch};
use conflict_core::{DetectConfig, DetectedPair, PairSink};
use conflict_synth::{generate, SynthConfig};
use std::time::Instant;
struct Count(u64);
impl PairSink for Count {
    type Error = std::convert::Infallible;
    fn accept(&mut self, _: &DetectedPair) -> Result<(), Self::Error> {
        self.0 += 1;
        Ok(())
    }
}
fn main() {
    let as_of = "2025-06-15".parse().unwrap();
    let visits = generate(&SynthConfig::large_batch(1, as_of));
    let dc = DetectConfig::new(as_of).unwrap();
    dedupe_bench(&visits);
    let reps: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(5);
    let (mut ta, mut tb, mut tp) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        let adm = admit(&visits, &dc.window, &dc.exclusions).unwrap();
        ta = ta.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let batch = Batch::build(&visits, &adm);
        tb = tb.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut c = Count(0);
        pair_batch(&batch, &dc, &mut c).unwrap();
        tp = tp.min(t.elapsed().as_secs_f64());
        std::hint::black_box(c.0);
    }
    println!(
        "min of {reps}: admit {ta:.3} build {tb:.3} pair {tp:.3} total {:.3}",
        ta + tb + tp
    );
}
#[allow(dead_code)]
fn dedupe_bench(visits: &[conflict_core::Visit]) {
    use std::collections::HashMap;
    let t = Instant::now();
    let mut m: HashMap<&str, usize> = HashMap::with_capacity(visits.len());
    for (i, v) in visits.iter().enumerate() {
        m.entry(v.visit_id.as_str()).or_insert(i);
    }
    println!("sip map {:.3}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut ids: Vec<(&str, u32)> = visits
        .iter()
        .enumerate()
        .map(|(i, v)| (v.visit_id.as_str(), i as u32))
        .collect();
    ids.sort_unstable();
    println!("sort strs {:.3}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut n = 0u64;
    for v in visits {
        n = n.wrapping_add(
            v.visit_id.as_bytes()[0] as u64 + v.ssn.as_ref().map_or(0, |s| s.len() as u64),
        );
    }
    println!("touch {:.3} {n}", t.elapsed().as_secs_f64());
}
