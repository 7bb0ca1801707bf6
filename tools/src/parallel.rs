//! Produce items `0..n` on several threads and consume them in order, with bounded memory.
//!
//! Workers claim indices in order; a worker may start item `i` only once fewer than `window`
//! items separate it from the next one to be consumed, so at most `window` finished items wait
//! in the reorder buffer. The item the consumer waits for is always allowed to proceed, so the
//! pipeline cannot deadlock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

use anyhow::Result;

/// Runs `produce(state, i, buffer)` for `i` in `0..n` on `threads` workers (each with its own
/// `init()` state) and `consume(i, bytes)` in index order on the calling thread. The first error
/// from either stops everything and is returned.
pub fn run<S>(
    n: usize,
    threads: usize,
    window: usize,
    init: impl Fn() -> S + Sync,
    produce: impl Fn(&mut S, usize, &mut Vec<u8>) -> Result<()> + Sync,
    mut consume: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let threads = threads.clamp(1, n.max(1));
    let window = window.max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let consumed = Mutex::new(0usize);
    let advanced = Condvar::new();
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<u8>>)>(window);

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, consumed, advanced) = (&next, &stop, &consumed, &advanced);
            let (init, produce) = (&init, &produce);
            scope.spawn(move || {
                let mut state = init();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    {
                        let mut done = consumed.lock().unwrap_or_else(|e| e.into_inner());
                        while i >= *done + window && !stop.load(Ordering::Relaxed) {
                            done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut buffer = Vec::new();
                    let result = produce(&mut state, i, &mut buffer).map(|()| buffer);
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);

        let halt = |e: anyhow::Error| {
            stop.store(true, Ordering::Relaxed);
            let _guard = consumed.lock().unwrap_or_else(|e| e.into_inner());
            advanced.notify_all();
            Err(e)
        };
        let mut pending = BTreeMap::new();
        let mut done = 0usize;
        while done < n {
            let Ok((i, result)) = rx.recv() else {
                return halt(anyhow::anyhow!("workers stopped after {done} of {n} items"));
            };
            match result {
                Ok(bytes) => pending.insert(i, bytes),
                Err(e) => return halt(e),
            };
            while let Some(bytes) = pending.remove(&done) {
                if let Err(e) = consume(done, &bytes) {
                    return halt(e);
                }
                done += 1;
                *consumed.lock().unwrap_or_else(|e| e.into_inner()) = done;
                advanced.notify_all();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn consumes_in_order_whatever_the_finishing_order() {
        let mut seen = Vec::new();
        run(
            50,
            4,
            3,
            || (),
            |_, i, buf| {
                // Later items finish sooner.
                std::thread::sleep(std::time::Duration::from_micros(((50 - i) * 20) as u64));
                buf.extend_from_slice(&i.to_le_bytes());
                Ok(())
            },
            |i, bytes| {
                assert_eq!(bytes, i.to_le_bytes());
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn items_in_flight_stay_within_the_window() {
        let started = AtomicUsize::new(0);
        let max_ahead = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        run(
            200,
            4,
            5,
            || (),
            |_, _, _| {
                let s = started.fetch_add(1, Ordering::SeqCst) + 1;
                let ahead = s - consumed.load(Ordering::SeqCst);
                max_ahead.fetch_max(ahead, Ordering::SeqCst);
                Ok(())
            },
            |_, _| {
                consumed.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        assert!(max_ahead.load(Ordering::SeqCst) <= 5, "{max_ahead:?}");
    }

    #[test]
    fn the_first_error_stops_everything() {
        let produced = AtomicUsize::new(0);
        let err = run(
            10_000,
            2,
            4,
            || (),
            |_, i, _| {
                produced.fetch_add(1, Ordering::SeqCst);
                if i == 7 {
                    Err(anyhow::anyhow!("item {i} failed"))
                } else {
                    Ok(())
                }
            },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "item 7 failed");
        assert!(produced.load(Ordering::SeqCst) < 100);
        let err = run(
            10,
            2,
            4,
            || (),
            |_, _, _| Ok(()),
            |i, _| {
                if i == 3 {
                    Err(anyhow::anyhow!("disk full"))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    #[test]
    fn zero_items_is_fine() {
        run(0, 4, 4, || (), |_, _, _| Ok(()), |_, _| Ok(())).unwrap();
    }
}
