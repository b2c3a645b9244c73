"""The Spark engine: session, fact tables, the profile pass, ALS and uplift scoring on PySpark."""
