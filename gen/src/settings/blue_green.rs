//! Blue-green: two colours of the server side by side, each its own Deployment and image
//! pin, and the public Service on one of them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Image;

/// The two colours, each optional so the idle one can be removed between releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueGreen {
    /// The colour the API Service and the Ingress send traffic to. Switching (and rolling
    /// back) is changing this one setting and applying. Required.
    pub active: Color,
    /// The blue Deployment. Absent: none.
    #[serde(default)]
    pub blue: Option<ColorSettings>,
    /// The green Deployment. Absent: none.
    #[serde(default)]
    pub green: Option<ColorSettings>,
}

impl BlueGreen {
    /// The colours that run, blue first, with their settings.
    #[must_use]
    pub fn colors(&self) -> Vec<(Color, &ColorSettings)> {
        [(Color::Blue, &self.blue), (Color::Green, &self.green)]
            .into_iter()
            .filter_map(|(c, s)| s.as_ref().map(|s| (c, s)))
            .collect()
    }
}

/// A colour.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    /// `blue` or `green`: the suffix of the colour's object names and its label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

/// What differs between the colours: the image. Everything else (replicas, autoscaling,
/// resources, config) is the component's, so both colours are sized for full traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColorSettings {
    /// This colour's image. Default `ghcr.io/akidb/akidb-embed` tagged with the server's
    /// version.
    #[serde(default)]
    pub image: Image,
}
