//! The matrices a forward pass writes between its products, kept from layer to layer and
//! from one pass to the next.
//!
//! Why: with a new matrix for every product and pass, a batch of 32 sentences spent 8% of
//! its time zeroing memory it was about to overwrite (`memset`) and having the kernel
//! hand out fresh pages (`clear_page`). Every pass writes each element of these
//! matrices before it reads it, so they are resized, never cleared.

use std::sync::{Mutex, PoisonError};

/// One pass's intermediate matrices, one row per token.
#[derive(Default)]
pub struct Scratch {
    /// Query, key and value, before their bias.
    pub qkv: Vec<f32>,
    /// Attention's context rows.
    pub ctx: Vec<f32>,
    /// The attention output's product.
    pub out: Vec<f32>,
    /// After the attention block's residual and norm.
    pub attn: Vec<f32>,
    /// The feed-forward block's widened rows, activated in place.
    pub up: Vec<f32>,
    /// The feed-forward block's product back to the hidden size.
    pub down: Vec<f32>,
    /// The products' per-strip results when the rows are few ([`super::panels`]).
    pub tiles: Vec<f32>,
}

impl Scratch {
    fn floats(&self) -> usize {
        [
            &self.qkv,
            &self.ctx,
            &self.out,
            &self.attn,
            &self.up,
            &self.down,
            &self.tiles,
        ]
        .iter()
        .map(|v| v.capacity())
        .sum()
    }
}

/// Scratch kept between passes. A pass over a long batch may need hundreds of megabytes;
/// only sets up to [`Pool::KEEP_FLOATS`] are kept, so an idle server does not hold on to
/// its largest request.
#[derive(Default)]
pub struct Pool {
    free: Mutex<Vec<Scratch>>,
}

impl Pool {
    /// 16 MiB of floats: a batch of 32 sentences with MiniLM's sizes needs about 8.
    const KEEP_FLOATS: usize = 4 << 20;
    /// Sets kept. A model's passes run one at a time on its compute thread, so one set
    /// is reused; a second covers passes that overlap, when two threads share an encoder.
    const KEEP_SETS: usize = 2;

    /// A set left by an earlier pass, or an empty one.
    pub fn take(&self) -> Scratch {
        self.lock().pop().unwrap_or_default()
    }

    /// Keeps `s` for a later pass, unless it is large or enough sets are kept.
    pub fn give(&self, s: Scratch) {
        if s.floats() <= Self::KEEP_FLOATS {
            let mut free = self.lock();
            if free.len() < Self::KEEP_SETS {
                free.push(s);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Scratch>> {
        // A pass that panicked left nothing half-done in the list itself.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes `buf` exactly `len` long, keeping what it holds: the caller overwrites every
/// element, so only a part beyond the old length is zeroed.
pub fn fit(buf: &mut Vec<f32>, len: usize) {
    buf.resize(len, 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_allocation_and_only_grows_with_zeros() {
        let mut v = vec![7.0f32; 10];
        let at = v.as_ptr();
        fit(&mut v, 4);
        assert_eq!(v, [7.0; 4]);
        fit(&mut v, 10);
        assert_eq!(v.as_ptr(), at);
        assert_eq!(&v[..4], &[7.0; 4]);
        assert_eq!(&v[4..], &[0.0; 6]);
    }

    #[test]
    fn the_pool_keeps_small_sets_and_drops_large_ones() {
        let pool = Pool::default();
        pool.give(Scratch {
            up: vec![1.0; 100],
            ..Scratch::default()
        });
        assert_eq!(pool.take().up.len(), 100);
        assert!(pool.take().up.is_empty(), "only one set was given");

        pool.give(Scratch {
            up: vec![1.0; Pool::KEEP_FLOATS + 1],
            ..Scratch::default()
        });
        assert!(pool.take().up.is_empty(), "a large set is not kept");

        for _ in 0..Pool::KEEP_SETS + 1 {
            pool.give(Scratch {
                ctx: vec![0.0; 8],
                ..Scratch::default()
            });
        }
        assert_eq!(pool.lock().len(), Pool::KEEP_SETS);
    }
}
