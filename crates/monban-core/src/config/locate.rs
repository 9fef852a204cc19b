//! Maps a field path back to the line it was written on, using the spans `toml_edit` keeps.

use std::fmt;

/// A path into a TOML document: keys and array indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl FieldPath {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_string()));
        next
    }

    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if n == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A place in the parsed document; array elements are values, tables of an array are tables.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
    Table(&'a toml_edit::Table),
}

impl<'a> Node<'a> {
    fn span_start(self) -> Option<usize> {
        match self {
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
            Node::Table(table) => table.span(),
        }
        .map(|span| span.start)
    }

    fn table_like(self) -> Option<&'a dyn toml_edit::TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value
                .as_inline_table()
                .map(|t| t as &dyn toml_edit::TableLike),
            Node::Table(table) => Some(table as &dyn toml_edit::TableLike),
        }
    }

    fn element(self, index: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(toml_edit::Item::ArrayOfTables(tables)) => {
                tables.get(index).map(Node::Table)
            }
            Node::Item(toml_edit::Item::Value(toml_edit::Value::Array(array)))
            | Node::Value(toml_edit::Value::Array(array)) => array.get(index).map(Node::Value),
            _ => None,
        }
    }
}

/// The byte offset where the deepest existing part of `path` is written.
pub(crate) fn byte_offset(doc: &toml_edit::Document<&str>, path: &FieldPath) -> Option<usize> {
    let mut node = Node::Item(doc.as_item());
    let mut best: Option<usize> = None;
    for segment in &path.0 {
        let next = match segment {
            Segment::Key(key) => node.table_like().and_then(|table| {
                let (k, item) = table.get_key_value(key)?;
                best = k.span().map(|s| s.start).or(best);
                Some(Node::Item(item))
            }),
            Segment::Index(index) => node.element(*index),
        };
        let Some(next) = next else { break };
        if let Some(start) = next.span_start() {
            best = Some(best.map_or(start, |b| b.max(start)));
        }
        node = next;
    }
    best
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key written at the start of a line, if that line is a `key = value` line.
pub(crate) fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = content.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()).then(|| key.to_string())
}
