"""One repository per entity over the catalog's SQL tables (services/core/tables.py); each returns
domain models (services/core/models.py) and each method is one transaction."""
