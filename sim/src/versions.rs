//! The API versions the simulator serves: every one Salesforce serves, 31.0
//! (Summer '14) to the newest release it knows, on SOAP, REST and Bulk.

/// The oldest version Salesforce still serves.
pub const OLDEST: u32 = 31;
/// The newest release the simulator knows (Summer '26); bump with each release.
pub const NEWEST: u32 = 67;

/// The major number of a served version written `NN.0`, else None.
pub fn served(text: &str) -> Option<u32> {
    let major: u32 = text.strip_suffix(".0")?.parse().ok()?;
    (OLDEST..=NEWEST).contains(&major).then_some(major)
}

/// The release name of version `major`: 31 is Summer '14, then Winter,
/// Spring and Summer each year (Winter named after the next year).
pub fn label(major: u32) -> String {
    let i = major.saturating_sub(OLDEST);
    let season = ["Summer", "Winter", "Spring"][(i % 3) as usize];
    format!("{season} '{}", 14 + i.div_ceil(3))
}

/// `/services/data/`: every served version, oldest first.
pub fn list_json() -> serde_json::Value {
    (OLDEST..=NEWEST)
        .map(|v| {
            serde_json::json!({
                "label": label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_salesforce_releases() {
        assert_eq!(label(31), "Summer '14");
        assert_eq!(label(32), "Winter '15");
        assert_eq!(label(33), "Spring '15");
        assert_eq!(label(50), "Winter '21");
        assert_eq!(label(59), "Winter '24");
        assert_eq!(label(60), "Spring '24");
        assert_eq!(label(65), "Winter '26");
    }

    #[test]
    fn serves_31_to_newest() {
        assert_eq!(served("31.0"), Some(31));
        assert_eq!(served("59.0"), Some(59));
        assert_eq!(served(&format!("{NEWEST}.0")), Some(NEWEST));
        for bad in ["30.0", "68.0", "59", "59.1", "v59.0", "", "abc"] {
            assert_eq!(served(bad), None, "{bad}");
        }
    }
}
