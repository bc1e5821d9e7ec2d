//! What a plan is printed as: sections of figures, each a name, a value and one line of
//! reasoning. The sizing's sections ([`super::sections`], [`super::table_sections`]) make
//! them; [`super::render`] prints them as text, Markdown or JSON.

/// A group of figures printed under one heading.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Section {
    pub title: String,
    pub figures: Vec<Figure>,
}

/// One figure: its name, its value and the reasoning behind it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Figure {
    pub name: String,
    pub value: String,
    pub why: String,
}

pub fn figure(name: &str, value: impl Into<String>, why: impl Into<String>) -> Figure {
    Figure { name: name.into(), value: value.into(), why: why.into() }
}
