//! The perceptual losses of Gatys et al. and Johnson et al., measured with a frozen [`Vgg`].
//!
//! [`PerceptualLoss`] is THE objective: training, Gatys pixel optimisation and scoring all call
//! it, so there is exactly one definition of "how stylised" in the project.
//!
//! [`Vgg`]: crate::vgg::Vgg

mod content;
mod gram;
mod mse;
mod perceptual;
mod style;
mod total_variation;

pub use content::ContentLoss;
pub use gram::gram_matrix;
pub use mse::mse;
pub use perceptual::{LossError, LossParts, PerceptualLoss, PerceptualLossConfig};
pub use style::StyleLoss;
pub use total_variation::total_variation;
