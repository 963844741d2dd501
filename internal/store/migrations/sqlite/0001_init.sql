-- loadrig shop schema, SQLite. Times are Unix nanoseconds (UTC), exact on
-- round trips; ids of seeded rows are the dataset's.
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL UNIQUE,
	version INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	salt TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE TABLE products (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	description TEXT NOT NULL,
	category TEXT NOT NULL,
	price REAL NOT NULL,
	stock INTEGER NOT NULL CHECK (stock >= 0),
	version INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX products_category ON products (category, id);
CREATE TABLE reviews (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL,
	author_id INTEGER NOT NULL,
	rating INTEGER NOT NULL,
	text TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX reviews_product ON reviews (product_id, id);
CREATE TABLE orders (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL,
	total REAL NOT NULL,
	status TEXT NOT NULL,
	version INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE TABLE order_items (
	order_id INTEGER NOT NULL,
	line INTEGER NOT NULL,
	product_id INTEGER NOT NULL,
	quantity INTEGER NOT NULL,
	unit_price REAL NOT NULL,
	PRIMARY KEY (order_id, line)
);
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
