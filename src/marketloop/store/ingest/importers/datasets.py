"""Importers for known public layouts: UCI Online Retail, CDNOW, Taobao user behaviour, product
reviews (e.g. the women's clothing e-commerce reviews) and generic user-item interactions.

Each one models the source's peculiarities instead of rejecting them blindly: UCI cancellations
(invoices starting with C) become returns, rows without a CustomerID become guest orders, postage,
fees and manual adjustments become non-product items; Taobao's behaviour codes become event types.
"""

from __future__ import annotations

import pyarrow as pa

from marketloop.config import Settings
from marketloop.errors import InputError
from marketloop.store.ingest.entities import EntitySpec, FieldSpec
from marketloop.store.ingest.importers.base import Importer, Prepared, match_columns, select_mapped
from marketloop.store.ingest.readers import RawTable, Reject, check_file, quote
from marketloop.store.ingest.validate import validate

#: UCI stock codes that are not merchandise (postage, fees, discounts, manual entries, samples).
UCI_NON_PRODUCT_CODES = ("POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS")


def _source_spec(name: str, fields: tuple[FieldSpec, ...]) -> EntitySpec:
    """A spec for validating a source layout's raw rows (no natural key: every line is a record)."""
    return EntitySpec(name=name, table="orders", fields=fields, key=())


class UciImporter(Importer):
    """UCI Online Retail: one row per invoice line (InvoiceNo, StockCode, Description, Quantity,
    InvoiceDate, UnitPrice, CustomerID, Country)."""

    name = "uci-online-retail"
    COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")

    def __init__(self, mapping: dict[str, str] | None = None, currency: str = "GBP") -> None:
        super().__init__(mapping)
        self.currency = currency

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        fields = [
            "invoice",
            "stock_code",
            "description",
            "quantity",
            "invoice_date",
            "unit_price",
            "customer_id",
            "country",
        ]
        mapping = {**dict(zip(self.COLUMNS, fields, strict=True)), **self.mapping}
        mapping = {c: f for c, f in mapping.items() if c in raw.columns}
        chosen = match_columns(
            raw.columns, fields, fields[:6], mapping, what="UCI Online Retail", file_name=raw.source_name
        )
        select_mapped(wb, raw, chosen, "__uci_in")
        # Dates are ISO in this copy; other public exports write 12/1/2010 8:26. Parse both here into a typed
        # column; the few records that parse in neither form are quarantined with their text.
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_parsed AS SELECT * REPLACE ("
            "COALESCE(TRY_CAST(invoice_date AS TIMESTAMP), try_strptime(invoice_date, '%m/%d/%Y %H:%M')) AS invoice_date, "
            "CASE WHEN ends_with(customer_id, '.0') THEN left(customer_id, -2) ELSE customer_id END AS customer_id), "
            "invoice_date AS __date_text FROM __uci_in"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_badtime AS SELECT __line AS line, 'invoice_date' AS field, "
            "__date_text AS value, CASE WHEN NULLIF(TRIM(__date_text), '') IS NULL THEN 'missing' ELSE 'timestamp' END AS code, "
            "CASE WHEN NULLIF(TRIM(__date_text), '') IS NULL THEN 'invoice_date: required value is missing' "
            "ELSE 'invoice_date: expected a timestamp such as 2011-12-09 12:50:00 or 12/9/2011 12:50, got ' "
            "|| chr(39) || __date_text || chr(39) END AS reason FROM __uci_parsed WHERE invoice_date IS NULL"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP VIEW __uci_norm AS "
            "SELECT * EXCLUDE (__date_text) FROM __uci_parsed WHERE invoice_date IS NOT NULL"
        )
        spec = _source_spec(
            "uci-online-retail",
            (
                FieldSpec("invoice", "id", required=True, max_length=64),
                FieldSpec("stock_code", "id", required=True, max_length=64),
                FieldSpec("description", "text", max_length=255),
                FieldSpec("quantity", "int", required=True, nonzero=True, min=-1_000_000, max=1_000_000),
                FieldSpec("invoice_date", "timestamp", required=True),
                FieldSpec("unit_price", "float", required=True, min=0.0, max_setting="max_price"),
                FieldSpec("customer_id", "id", max_length=64),
                FieldSpec("country", "text", max_length=64),
            ),
        )
        checked = validate(wb, spec, "__uci_norm", list(chosen), settings)
        clean = checked.clean_table
        # Stock write-offs (negative quantity outside a C invoice) and bad-debt adjustments (A invoices)
        # are bookkeeping, not customer orders: keep them out, visibly.
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_adjust AS SELECT __line AS line, 'invoice' AS field, invoice AS value, "
            "'adjustment' AS code, CASE WHEN upper(invoice) LIKE 'A%' THEN 'accounting adjustment invoice ' || invoice || ': not a customer order' "
            "ELSE 'stock adjustment (negative quantity outside a cancellation invoice ' || invoice || '): not a customer order' END AS reason "
            f"FROM {clean} WHERE upper(invoice) LIKE 'A%' OR (quantity < 0 AND upper(invoice) NOT LIKE 'C%')"
        )
        non_product = ", ".join("'" + c + "'" for c in UCI_NON_PRODUCT_CODES)
        wb.execute(
            f"CREATE OR REPLACE TEMP VIEW __uci AS SELECT * FROM {clean} "
            "WHERE NOT (upper(invoice) LIKE 'A%' OR (quantity < 0 AND upper(invoice) NOT LIKE 'C%'))"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_customers AS SELECT customer_id, arg_max(country, invoice_date) AS country, "
            "false AS is_guest, min(__line) AS __line FROM __uci WHERE customer_id IS NOT NULL GROUP BY customer_id"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_products AS SELECT stock_code AS product_id, "
            "COALESCE(mode(description), 'Item ' || stock_code) AS name, "
            "round(median(unit_price) FILTER (WHERE unit_price > 0 AND quantity > 0), 2) AS price, "
            f"'{self.currency}' AS currency, "
            f"NOT (upper(stock_code) IN ({non_product}) OR lower(stock_code) LIKE 'gift%') AS is_product, "
            "min(__line) AS __line FROM __uci GROUP BY stock_code"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_orders AS SELECT invoice AS order_id, max(customer_id) AS customer_id, "
            "min(invoice_date) AS ordered_at, "
            "CASE WHEN upper(invoice) LIKE 'C%' THEN 'cancelled' ELSE 'completed' END AS status, "
            "upper(invoice) LIKE 'C%' AS is_return, arg_min(country, __line) AS country, "
            f"'{self.currency}' AS currency, round(sum(quantity * unit_price), 2) AS total, 'web' AS channel, "
            "min(__line) AS __line FROM __uci GROUP BY invoice"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __uci_lines AS SELECT invoice AS order_id, "
            "row_number() OVER (PARTITION BY invoice ORDER BY __line) AS line_no, stock_code AS product_id, "
            "quantity, unit_price, __line FROM __uci"
        )
        return Prepared(
            tables={
                "customers": ("__uci_customers", ["customer_id", "country", "is_guest"]),
                "products": ("__uci_products", ["product_id", "name", "price", "currency", "is_product"]),
                "orders": (
                    "__uci_orders",
                    [
                        "order_id",
                        "customer_id",
                        "ordered_at",
                        "status",
                        "is_return",
                        "country",
                        "currency",
                        "total",
                        "channel",
                    ],
                ),
                "order_lines": ("__uci_lines", ["order_id", "line_no", "product_id", "quantity", "unit_price"]),
            },
            reject_tables=["__uci_badtime", checked.rejects_table, "__uci_adjust"],
        )


class CdnowImporter(Importer):
    """CDNOW purchase log: whitespace-separated `customer date(YYYYMMDD) cds dollars` (the master file)
    or `customer id2 date cds dollars` (the 1/10th sample). Each row becomes one order of one line."""

    name = "cdnow"

    def read(self, wb, path, table, *, fmt, delimiter, encoding) -> RawTable:  # noqa: ANN001
        check_file(path)
        cols: dict[str, list] = {"customer_id": [], "ordered_at": [], "quantity": [], "total": [], "__line": []}
        rejects: list[Reject] = []
        with open(path, encoding="utf-8", errors="strict") as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.split()
                if not parts:
                    continue
                if number == 1 and not parts[0].isdigit():
                    continue  # header line
                if len(parts) not in (4, 5):
                    rejects.append(
                        Reject(
                            number,
                            "(row)",
                            line.strip()[:200],
                            "columns",
                            f"record has {len(parts)} columns, expected 4 (customer date cds dollars) or 5",
                        )
                    )
                    continue
                customer, date, cds, dollars = (parts[0], parts[-3], parts[-2], parts[-1])
                cols["customer_id"].append(customer.lstrip("0") or "0")
                cols["ordered_at"].append(f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 else date)
                cols["quantity"].append(cds)
                cols["total"].append(dollars)
                cols["__line"].append(number)
        data = pa.table({k: pa.array(v, pa.int64() if k == "__line" else pa.string()) for k, v in cols.items()})
        if data.num_rows == 0 and not rejects:
            raise InputError(
                f"File {path.name!r} has no records",
                field="file",
                value=str(path),
                hint="Expected lines like '00001 19970101 1 11.77'.",
            )
        wb.register("__cdnow_arrow", data)
        wb.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM __cdnow_arrow")
        wb.unregister("__cdnow_arrow")
        return RawTable(table, [c for c in cols if c != "__line"], data.num_rows, rejects, path.name)

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        # Several purchases on one day get one order each, numbered in file order.
        wb.execute(
            f"CREATE OR REPLACE TEMP TABLE __cd_orders AS SELECT 'cd-' || customer_id || '-' || replace(ordered_at, '-', '') "
            f"|| '-' || CAST(row_number() OVER (PARTITION BY customer_id, ordered_at ORDER BY __line) AS VARCHAR) AS order_id, "
            f"customer_id, ordered_at, total, 'USD' AS currency, quantity, __line FROM {raw.name}"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __cd_customers AS SELECT customer_id, min(__line) AS __line FROM __cd_orders GROUP BY customer_id"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __cd_products AS SELECT 'cdnow-cd' AS product_id, 'CD (CDNOW catalogue)' AS name, "
            "'music' AS category, 'USD' AS currency, min(__line) AS __line FROM __cd_orders"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __cd_lines AS SELECT order_id, 1 AS line_no, 'cdnow-cd' AS product_id, quantity, "
            "CASE WHEN TRY_CAST(quantity AS DOUBLE) > 0 THEN round(TRY_CAST(total AS DOUBLE) / TRY_CAST(quantity AS DOUBLE), 4) "
            "ELSE TRY_CAST(total AS DOUBLE) END AS unit_price, __line FROM __cd_orders"
        )
        return Prepared(
            tables={
                "customers": ("__cd_customers", ["customer_id"]),
                "products": ("__cd_products", ["product_id", "name", "category", "currency"]),
                "orders": ("__cd_orders", ["order_id", "customer_id", "ordered_at", "total", "currency"]),
                "order_lines": ("__cd_lines", ["order_id", "line_no", "product_id", "quantity", "unit_price"]),
            }
        )


class TaobaoImporter(Importer):
    """Taobao user behaviour: user_id, item_id, category_id, behavior_type (pv/fav/cart/buy), epoch timestamp."""

    name = "taobao"
    TYPES = {"pv": "view", "fav": "wishlist", "cart": "add_to_cart", "buy": "purchase"}

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        fields = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
        chosen = match_columns(
            raw.columns, fields, fields, self.mapping, what="Taobao behaviour", file_name=raw.source_name
        )
        select_mapped(wb, raw, chosen, "__tb_in")
        cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in self.TYPES.items())
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __tb_events AS SELECT "
            "md5(concat_ws('|', user_id, item_id, behavior_type, timestamp)) AS event_id, "
            f"TRIM(user_id) AS customer_id, TRIM(item_id) AS product_id, CASE lower(TRIM(behavior_type)) {cases} "
            "ELSE behavior_type END AS event_type, "
            "COALESCE(CAST(to_timestamp(TRY_CAST(timestamp AS BIGINT)) AT TIME ZONE 'UTC' AS VARCHAR), timestamp) AS ts, "
            "category_id, __line FROM __tb_in"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __tb_customers AS SELECT customer_id, min(__line) AS __line "
            "FROM __tb_events WHERE customer_id IS NOT NULL AND customer_id <> '' GROUP BY customer_id"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __tb_products AS SELECT product_id, 'Item ' || product_id AS name, "
            "'cat-' || any_value(category_id) AS category, min(__line) AS __line "
            "FROM __tb_events WHERE product_id IS NOT NULL AND product_id <> '' GROUP BY product_id"
        )
        return Prepared(
            tables={
                "customers": ("__tb_customers", ["customer_id"]),
                "products": ("__tb_products", ["product_id", "name", "category"]),
                "events": ("__tb_events", ["event_id", "customer_id", "product_id", "event_type", "ts"]),
            }
        )


class ReviewsImporter(Importer):
    """Product reviews with text and a 1-5 rating. Defaults fit the women's clothing e-commerce reviews
    file (Clothing ID, Title, Review Text, Rating, Department Name, Class Name); map others with --map."""

    name = "reviews"
    DEFAULTS = {
        "Clothing ID": "product_id",
        "Title": "title",
        "Review Text": "body",
        "Rating": "rating",
        "Department Name": "department",
        "Class Name": "class_name",
        "Division Name": "division",
    }

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        fields = [
            "review_id",
            "product_id",
            "customer_id",
            "rating",
            "title",
            "body",
            "created_at",
            "department",
            "class_name",
            "division",
        ]
        mapping = {c: f for c, f in self.DEFAULTS.items() if c in raw.columns}
        mapping.update(self.mapping)
        chosen = match_columns(
            raw.columns, fields, ["product_id", "rating"], mapping, what="reviews", file_name=raw.source_name
        )
        if "review_id" not in chosen and "" in raw.columns:
            chosen["review_id"] = ""  # the unnamed index column of pandas exports
        select_mapped(wb, raw, chosen, "__rv_in")
        review_id = "review_id" if "review_id" in chosen else "CAST(__line AS VARCHAR)"
        category = (
            "COALESCE(class_name, department)"
            if "class_name" in chosen
            else ("department" if "department" in chosen else "NULL")
        )
        wb.execute(
            f"CREATE OR REPLACE TEMP TABLE __rv_reviews AS SELECT {review_id} AS review_id, TRIM(product_id) AS product_id, "
            f"{'customer_id' if 'customer_id' in chosen else 'NULL'} AS customer_id, rating, "
            f"{'title' if 'title' in chosen else 'NULL'} AS title, {'body' if 'body' in chosen else 'NULL'} AS body, "
            f"{'created_at' if 'created_at' in chosen else 'NULL'} AS created_at, {category} AS category, __line FROM __rv_in"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __rv_products AS SELECT product_id, "
            "COALESCE(mode(category), 'Product') || ' #' || product_id AS name, mode(category) AS category, "
            "min(__line) AS __line FROM __rv_reviews WHERE product_id IS NOT NULL AND product_id <> '' GROUP BY product_id"
        )
        review_fields = ["review_id", "product_id", "rating", "title", "body", "created_at"]
        if "customer_id" in chosen:
            review_fields.append("customer_id")
        return Prepared(
            tables={
                "products": ("__rv_products", ["product_id", "name", "category"]),
                "reviews": ("__rv_reviews", review_fields),
            },
            ignored_columns=[c for c in raw.columns if c not in chosen.values()],
        )


class InteractionsImporter(Importer):
    """Generic user-item interactions: --user-col, --item-col, --time-col [--rating-col] [--event-type]."""

    name = "interactions"

    def __init__(
        self,
        mapping: dict[str, str] | None = None,
        user_col: str = "user_id",
        item_col: str = "item_id",
        time_col: str = "timestamp",
        rating_col: str | None = None,
        event_type: str = "purchase",
    ) -> None:
        super().__init__(mapping)
        self.columns = {"user": user_col, "item": item_col, "time": time_col, "rating": rating_col}
        self.event_type = event_type

    def prepare(self, wb, raw: RawTable, settings: Settings) -> Prepared:  # noqa: ANN001
        for role, column in self.columns.items():
            if column is not None and column not in raw.columns:
                raise InputError(
                    f"--{role}-col {column!r}: {raw.source_name!r} has no such column (its columns: {', '.join(raw.columns)})",
                    field=f"{role}_col",
                    value=column,
                    hint=f"Pass --{role}-col with one of the file's columns.",
                )
        user, item, ts = (quote(self.columns[k]) for k in ("user", "item", "time"))
        rating = quote(self.columns["rating"]) if self.columns["rating"] else "NULL"
        time_expr = (
            f"COALESCE(CASE WHEN regexp_full_match(TRIM(CAST({ts} AS VARCHAR)), '[0-9]{{9,10}}') THEN "
            f"CAST(to_timestamp(CAST(TRIM(CAST({ts} AS VARCHAR)) AS BIGINT)) AT TIME ZONE 'UTC' AS VARCHAR) END, "
            f"CAST({ts} AS VARCHAR))"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __ix_events AS SELECT "
            f"md5(concat_ws('|', {user}, {item}, {ts}, CAST(__line AS VARCHAR))) AS event_id, "
            f"TRIM(CAST({user} AS VARCHAR)) AS customer_id, TRIM(CAST({item} AS VARCHAR)) AS product_id, "
            f"'{self.event_type}' AS event_type, {time_expr} AS ts, {rating} AS value, __line FROM {raw.name}"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __ix_customers AS SELECT customer_id, min(__line) AS __line "
            "FROM __ix_events WHERE customer_id IS NOT NULL AND customer_id <> '' GROUP BY customer_id"
        )
        wb.execute(
            "CREATE OR REPLACE TEMP TABLE __ix_products AS SELECT product_id, 'Item ' || product_id AS name, "
            "min(__line) AS __line FROM __ix_events WHERE product_id IS NOT NULL AND product_id <> '' GROUP BY product_id"
        )
        fields = ["event_id", "customer_id", "product_id", "event_type", "ts"] + (
            ["value"] if self.columns["rating"] else []
        )
        return Prepared(
            tables={
                "customers": ("__ix_customers", ["customer_id"]),
                "products": ("__ix_products", ["product_id", "name"]),
                "events": ("__ix_events", fields),
            }
        )
