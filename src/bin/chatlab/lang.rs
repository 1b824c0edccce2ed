//! The language of what the instruments say to students: French or English.
//!
//! `--lang fr|en` wins; otherwise the locale, as POSIX reads it for messages: the first of
//! `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty; French when it starts with `fr`.
//!
//! One idiom for every sentence a student reads: [`msg!`]`(lang, "en français {x}", "in English
//! {x}")`, the French first, both written where they are used (each instrument's strings sit
//! beside the code that says them: grep the French to find one). No i18n framework. Code, logs
//! and the README stay in English.

use std::ffi::OsString;

/// A language the instruments speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// `--lang` if given, else the locale of this process.
    pub fn choose(flag: Option<Lang>) -> Lang {
        flag.unwrap_or_else(|| Lang::from_locale(|name| std::env::var_os(name)))
    }

    /// The language of the locale that VAR reads (LC_ALL, then LC_MESSAGES, then LANG).
    pub fn from_locale(var: impl Fn(&str) -> Option<OsString>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(&var)
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        if locale.to_string_lossy().starts_with("fr") {
            Lang::Fr
        } else {
            Lang::En
        }
    }
}

/// `msg!(lang, "en français {x}", "in English {x}")`: a sentence in the student's language, as
/// a `String`. Both are format strings whose arguments come from the scope (`{x}`, as in
/// `format!`): the compiler checks that what each names exists.
macro_rules! msg {
    ($lang:expr, $fr:literal, $en:literal $(,)?) => {
        match $lang {
            $crate::lang::Lang::Fr => format!($fr),
            $crate::lang::Lang::En => format!($en),
        }
    };
}
pub(crate) use msg;

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Lang {
        Lang::from_locale(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn the_locale_chooses_as_posix_reads_it() {
        assert_eq!(with(&[]), Lang::En);
        assert_eq!(with(&[("LANG", "fr_FR.UTF-8")]), Lang::Fr);
        assert_eq!(with(&[("LANG", "C.UTF-8")]), Lang::En);
        // LC_ALL wins over LANG, LC_MESSAGES over LANG; an empty value is not set.
        assert_eq!(
            with(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "fr_FR.UTF-8")]),
            Lang::En
        );
        assert_eq!(
            with(&[("LC_MESSAGES", "fr_CA"), ("LANG", "en_GB")]),
            Lang::Fr
        );
        assert_eq!(with(&[("LC_ALL", ""), ("LANG", "fr_BE")]), Lang::Fr);
    }

    #[test]
    fn msg_speaks_the_language_asked() {
        let n = 3;
        assert_eq!(msg!(Lang::Fr, "{n} lignes", "{n} lines"), "3 lignes");
        assert_eq!(msg!(Lang::En, "{n} lignes", "{n} lines"), "3 lines");
    }

    #[test]
    fn the_flag_wins() {
        assert_eq!(Lang::choose(Some(Lang::Fr)), Lang::Fr);
        assert_eq!(Lang::choose(Some(Lang::En)), Lang::En);
    }
}
