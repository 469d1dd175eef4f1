//! The `Mapper` trait, its closure implementation and composition.

use super::error::MapError;

/// Turns one record of one system into a record of another, or says every reason why not.
///
/// Closures `Fn(In) -> Result<Out, MapError>` are mappers; [`and_then`](Mapper::and_then)
/// chains two. The trait is object safe, so mappers can be chosen at run time as
/// `Box<dyn Mapper<In, Out = X>>`; pass `&*boxed` where a `&M` is expected.
///
/// ```
/// use steadfast::mapper::{FieldError, FieldErrorKind, MapError, Mapper};
///
/// fn main() -> Result<(), MapError> {
///     let cents = |euros: f64| -> Result<i64, MapError> {
///         if euros.is_finite() && euros >= 0.0 {
///             #[allow(clippy::cast_possible_truncation)]
///             Ok((euros * 100.0).round() as i64)
///         } else {
///             Err(FieldError::new("amount", FieldErrorKind::out_of_range(">= 0")).into())
///         }
///     };
///     let label = |cents: i64| -> Result<String, MapError> { Ok(format!("{cents} ct")) };
///
///     let pipeline = cents.and_then(label);
///     assert_eq!(pipeline.map(12.5)?, "1250 ct");
///     assert!(pipeline.map(-1.0).is_err());
///     Ok(())
/// }
/// ```
pub trait Mapper<In> {
    /// What a successful mapping produces.
    type Out;

    /// Maps one record.
    ///
    /// # Errors
    ///
    /// A [`MapError`] listing every field problem found in `input`.
    fn map(&self, input: In) -> Result<Self::Out, MapError>;

    /// Feeds this mapper's output into `next`; the first error stops the chain.
    #[must_use]
    fn and_then<M>(self, next: M) -> AndThen<Self, M>
    where
        Self: Sized,
        M: Mapper<Self::Out>,
    {
        AndThen { first: self, next }
    }
}

impl<In, Out, F> Mapper<In> for F
where
    F: Fn(In) -> Result<Out, MapError>,
{
    type Out = Out;

    fn map(&self, input: In) -> Result<Out, MapError> {
        self(input)
    }
}

/// Two mappers in sequence, built by [`Mapper::and_then`].
#[derive(Debug, Clone, Copy)]
pub struct AndThen<A, B> {
    first: A,
    next: B,
}

impl<In, A, B> Mapper<In> for AndThen<A, B>
where
    A: Mapper<In>,
    B: Mapper<A::Out>,
{
    type Out = B::Out;

    fn map(&self, input: In) -> Result<B::Out, MapError> {
        self.next.map(self.first.map(input)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::{FieldError, FieldErrorKind};

    fn parse_id(raw: &str) -> Result<u32, MapError> {
        raw.trim()
            .parse()
            .map_err(|_| FieldError::new("id", FieldErrorKind::invalid("u32")).into())
    }

    #[test]
    fn closures_and_fns_are_mappers() {
        assert_eq!(parse_id.map(" 42 "), Ok(42));
        let double = |n: u32| -> Result<u32, MapError> { Ok(n * 2) };
        assert_eq!(double.map(21), Ok(42));
    }

    #[test]
    fn and_then_chains_and_stops_at_first_error() {
        let pipeline = parse_id.and_then(|n: u32| -> Result<String, MapError> {
            if n == 0 {
                Err(FieldError::new("id", FieldErrorKind::out_of_range(">= 1")).into())
            } else {
                Ok(format!("client-{n}"))
            }
        });
        assert_eq!(pipeline.map("7"), Ok("client-7".to_owned()));
        let error = pipeline.map("x").expect_err("first step fails");
        assert_eq!(error.problems()[0].kind(), &FieldErrorKind::invalid("u32"));
        let error = pipeline.map("0").expect_err("second step fails");
        assert_eq!(
            error.problems()[0].kind(),
            &FieldErrorKind::out_of_range(">= 1")
        );
    }

    #[test]
    fn trait_objects_work() {
        let mappers: Vec<Box<dyn Mapper<&str, Out = u32>>> = vec![
            Box::new(parse_id),
            Box::new(parse_id.and_then(|n: u32| -> Result<u32, MapError> { Ok(n + 1) })),
        ];
        let outputs: Vec<u32> = mappers
            .iter()
            .map(|mapper| mapper.map("1").expect("maps"))
            .collect();
        assert_eq!(outputs, [1, 2]);
    }
}
