//! Colours, or none, and symbols, or ASCII. `theme = "dark" | "light" | "mono"` picks a palette,
//! `[colors]` overrides single elements; with `NO_COLOR` (or `mono`) every state stays readable
//! through its symbol and word. When the locale is not UTF-8 (or with `--ascii`) the frame is
//! drawn in ASCII (see `view::ascii`).

use crate::config::ThemeName;
use crate::store::Status;
use ratatui::style::{Color, Modifier, Style};

/// The colour of each element `[colors]` can set (`config::COLOR_ELEMENTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub ok: Color,
    pub error: Color,
    pub warn: Color,
    pub step: Color,
    pub notice: Color,
    pub key: Color,
    pub dim: Color,
    pub border: Color,
    pub focus: Color,
    pub active: Color,
}

impl Palette {
    pub fn dark() -> Palette {
        Palette {
            ok: Color::Green,
            error: Color::Red,
            warn: Color::Yellow,
            step: Color::Cyan,
            notice: Color::Magenta,
            key: Color::Cyan,
            dim: Color::DarkGray,
            border: Color::DarkGray,
            focus: Color::Cyan,
            active: Color::Green,
        }
    }

    /// For a light background: darker hues, and grey that stays legible on white.
    pub fn light() -> Palette {
        Palette {
            ok: Color::Rgb(0, 110, 0),
            error: Color::Rgb(170, 0, 0),
            warn: Color::Rgb(150, 90, 0),
            step: Color::Blue,
            notice: Color::Rgb(130, 0, 130),
            key: Color::Blue,
            dim: Color::Rgb(100, 100, 100),
            border: Color::Rgb(150, 150, 150),
            focus: Color::Blue,
            active: Color::Rgb(0, 110, 0),
        }
    }

    fn set(&mut self, element: &str, c: Color) {
        let slot = match element {
            "ok" => &mut self.ok,
            "error" => &mut self.error,
            "warn" => &mut self.warn,
            "step" => &mut self.step,
            "notice" => &mut self.notice,
            "key" => &mut self.key,
            "dim" => &mut self.dim,
            "border" => &mut self.border,
            "focus" => &mut self.focus,
            "active" => &mut self.active,
            _ => return,
        };
        *slot = c;
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    /// Draw in ASCII only (no UTF-8 locale, or `--ascii`).
    pub ascii: bool,
    pub palette: Palette,
}

impl Theme {
    /// The dark palette, colours unless `NO_COLOR`, symbols unless the locale is not UTF-8.
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ascii: !locale_is_utf8(),
            palette: Palette::dark(),
        }
    }

    /// The config's theme and colours over what the environment says.
    pub fn from_config(config: &crate::config::Config, ascii: bool) -> Theme {
        let mut t = Theme::from_env();
        t.ascii |= ascii;
        match config.theme {
            ThemeName::Dark => {}
            ThemeName::Light => t.palette = Palette::light(),
            ThemeName::Mono => t.color = false,
        }
        for (element, value) in &config.colors {
            if let Ok(c) = value.parse::<Color>() {
                t.palette.set(element, c);
            }
        }
        t
    }

    /// No colour, UTF-8 symbols: what the snapshot tests draw with.
    pub fn plain() -> Theme {
        Theme {
            color: false,
            ascii: false,
            palette: Palette::dark(),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn status(&self, s: Status) -> (&'static str, Style) {
        let p = &self.palette;
        match s {
            Status::Success => ("✓ success", self.fg(p.ok)),
            Status::Failed => ("✗ failed", self.fg(p.error)),
            Status::Updating => ("● updating", self.fg(p.warn)),
            Status::Pending => ("… pending", self.fg(p.dim)),
        }
    }

    pub fn active_badge(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(self.palette.active)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    pub fn focused_border(&self) -> Style {
        if self.color {
            Style::new().fg(self.palette.focus)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    pub fn border(&self) -> Style {
        self.fg(self.palette.border)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(self.palette.dim)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn error(&self) -> Style {
        self.fg(self.palette.error).add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(self.palette.ok)
    }

    pub fn step(&self) -> Style {
        self.fg(self.palette.step).add_modifier(Modifier::BOLD)
    }

    pub fn notice(&self) -> Style {
        self.fg(self.palette.notice)
    }

    pub fn warn(&self) -> Style {
        self.fg(self.palette.warn)
    }

    pub fn key(&self) -> Style {
        self.fg(self.palette.key).add_modifier(Modifier::BOLD)
    }
}

/// Whether the locale's character set is UTF-8, as the C library decides it: the first of
/// `LC_ALL`, `LC_CTYPE`, `LANG` that is set and not empty; none set is the C locale, not UTF-8.
pub fn locale_is_utf8() -> bool {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let locale = var("LC_ALL")
        .or_else(|| var("LC_CTYPE"))
        .or_else(|| var("LANG"));
    locale.is_some_and(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("utf-8") || l.contains("utf8")
    })
}
