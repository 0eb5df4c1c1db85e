//! Synthetic visits (stub; being written).
