//! [`DateTime`]: the `dateTime.iso8601` value.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The name under which a [`DateTime`] passes through serde, so that [`to_value`](crate::to_value)
/// turns it back into `dateTime.iso8601` rather than a string.
pub(crate) const MAGIC: &str = "$multiproc_rpc::DateTime";

/// An XML-RPC `dateTime.iso8601`: a calendar date and time of day with no time zone, as
/// Python's `xmlrpc.client.DateTime` holds it.
///
/// It prints and parses in the form Python writes, `20240131T23:59:07`; parsing also takes the
/// extended form `2024-01-31T23:59:07`. Through serde it is a newtype around that string, and
/// `multiproc-rpc` sends it as `dateTime.iso8601`.
///
/// ```
/// use multiproc_rpc::DateTime;
/// let t: DateTime = "20240131T23:59:07".parse()?;
/// assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2024, 1, 31, 23, 59, 7));
/// assert_eq!(t.to_string(), "20240131T23:59:07");
/// # Ok::<(), multiproc_rpc::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60 (a leap second is allowed).
    pub second: u8,
}

impl DateTime {
    /// A date and time; an error if a field is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, Error> {
        let t = DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        if year > 9999
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(Error::Type(format!("date/time out of range: {t:?}")));
        }
        Ok(t)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl FromStr for DateTime {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Type(format!("not a dateTime.iso8601: {s:?}"));
        let s = s.trim();
        let compact: String = s.chars().filter(|c| *c != '-').collect();
        let (date, time) = compact.split_once('T').ok_or_else(bad)?;
        let time: String = time.chars().filter(|c| *c != ':').collect();
        // Anything after the seconds (fraction, zone) is ignored, as Python's DateTime keeps it
        // only as text.
        if date.len() != 8
            || time.len() < 6
            || !date.bytes().all(|b| b.is_ascii_digit())
            || !time.as_bytes()[..6].iter().all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let n = |s: &str| s.parse::<u16>().map_err(|_| bad());
        DateTime::new(
            n(&date[0..4])?,
            n(&date[4..6])? as u8,
            n(&date[6..8])? as u8,
            n(&time[0..2])? as u8,
            n(&time[2..4])? as u8,
            n(&time[4..6])? as u8,
        )
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(MAGIC, &self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dateTime.iso8601")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DateTime, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<DateTime, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_newtype_struct(MAGIC, V)
    }
}
