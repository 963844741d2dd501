-- loadrig shop schema, Postgres. Times are Unix nanoseconds (UTC), exact on
-- round trips; ids of seeded rows are the dataset's.
CREATE TABLE users (
	id BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL UNIQUE,
	version BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	salt TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE TABLE products (
	id BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	description TEXT NOT NULL,
	category TEXT NOT NULL,
	price DOUBLE PRECISION NOT NULL,
	stock BIGINT NOT NULL CHECK (stock >= 0),
	version BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX products_category ON products (category, id);
CREATE TABLE reviews (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL,
	author_id BIGINT NOT NULL,
	rating INTEGER NOT NULL,
	text TEXT NOT NULL,
	version BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX reviews_product ON reviews (product_id, id);
CREATE TABLE orders (
	id BIGSERIAL PRIMARY KEY,
	user_id BIGINT NOT NULL,
	total DOUBLE PRECISION NOT NULL,
	status TEXT NOT NULL,
	version BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE TABLE order_items (
	order_id BIGINT NOT NULL,
	line INTEGER NOT NULL,
	product_id BIGINT NOT NULL,
	quantity BIGINT NOT NULL,
	unit_price DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (order_id, line)
);
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
