//! A lake table as a list of typed columns, and its Parquet file. The types are the only ones the lake
//! uses, chosen for what Spark 4, DuckDB and Trino all read alike: UTF-8 text, signed 32- and 64-bit
//! integers, doubles, booleans, lists of text, and UTC timestamps in microseconds (Spark refuses
//! nanoseconds and reads unsigned 64-bit integers as decimals). Files are zstd-compressed.

use super::LakeError;
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Text,
    Int,
    SmallInt,
    Float,
    Bool,
    /// Microseconds since the Unix epoch, UTC.
    Time,
    TextList,
}

/// One cell of a row; `None` is SQL NULL.
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    SmallInt(Option<i32>),
    Float(Option<f64>),
    Bool(bool),
    Time(Option<i64>),
    TextList(Vec<String>),
}

/// A table's columns: name, type, and whether it may be NULL.
pub type Columns = &'static [(&'static str, Kind, bool)];

/// The Arrow schema of a table.
pub fn schema(columns: Columns) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|&(name, kind, nullable)| Field::new(name, data_type(kind), nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::SmallInt => DataType::Int32,
        Kind::Float => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::TextList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    SmallInt(Int32Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    TextList(ListBuilder<StringBuilder>),
}

/// Rows gathered for one record batch.
pub struct Rows {
    columns: Columns,
    builders: Vec<Builder>,
    len: usize,
}

impl Rows {
    pub fn new(columns: Columns) -> Rows {
        let builders = columns
            .iter()
            .map(|&(_, kind, _)| match kind {
                Kind::Text => Builder::Text(StringBuilder::new()),
                Kind::Int => Builder::Int(Int64Builder::new()),
                Kind::SmallInt => Builder::SmallInt(Int32Builder::new()),
                Kind::Float => Builder::Float(Float64Builder::new()),
                Kind::Bool => Builder::Bool(BooleanBuilder::new()),
                Kind::Time => {
                    Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                }
                Kind::TextList => Builder::TextList(ListBuilder::new(StringBuilder::new())),
            })
            .collect();
        Rows {
            columns,
            builders,
            len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a row; its cells must follow the table's columns in order and type (a mismatch is a bug
    /// in the table's definition, caught by the lake's tests).
    pub fn push(&mut self, row: Vec<Value>) {
        assert_eq!(row.len(), self.builders.len(), "a row of the wrong width");
        for ((builder, value), (name, ..)) in self.builders.iter_mut().zip(row).zip(self.columns) {
            match (builder, value) {
                (Builder::Text(b), Value::Text(v)) => b.append_option(v),
                (Builder::Int(b), Value::Int(v)) => b.append_option(v),
                (Builder::SmallInt(b), Value::SmallInt(v)) => b.append_option(v),
                (Builder::Float(b), Value::Float(v)) => b.append_option(v),
                (Builder::Bool(b), Value::Bool(v)) => b.append_value(v),
                (Builder::Time(b), Value::Time(v)) => b.append_option(v),
                (Builder::TextList(b), Value::TextList(v)) => {
                    b.append_value(v.into_iter().map(Some))
                }
                _ => panic!("column `{name}` given a value of another type"),
            }
        }
        self.len += 1;
    }

    /// The rows so far as a record batch; the builders start again empty.
    pub fn take(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Text(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::SmallInt(b) => Arc::new(b.finish()),
                    Builder::Float(b) => Arc::new(b.finish()),
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Time(b) => Arc::new(b.finish()),
                    Builder::TextList(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.len = 0;
        RecordBatch::try_new(schema(self.columns), arrays).expect("the builders follow the schema")
    }
}

/// A Parquet file being written.
pub struct ParquetFile {
    writer: ArrowWriter<File>,
    path: std::path::PathBuf,
}

impl ParquetFile {
    pub fn create(path: &Path, columns: Columns) -> Result<ParquetFile, LakeError> {
        let file = File::create(path).map_err(|e| LakeError::io("create", path, e))?;
        let parquet = |error| LakeError::Parquet {
            path: path.to_path_buf(),
            error,
        };
        let level = ZstdLevel::try_new(3).map_err(parquet)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(128 * 1024))
            .build();
        let writer = ArrowWriter::try_new(file, schema(columns), Some(props)).map_err(parquet)?;
        Ok(ParquetFile {
            writer,
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, rows: &mut Rows) -> Result<(), LakeError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.writer
            .write(&rows.take())
            .map_err(|error| LakeError::Parquet {
                path: self.path.clone(),
                error,
            })
    }

    pub fn close(self) -> Result<(), LakeError> {
        let path = self.path;
        self.writer
            .close()
            .map(|_| ())
            .map_err(|error| LakeError::Parquet { path, error })
    }
}
