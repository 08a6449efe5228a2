"""Process-wide resources. Only the engine and settings are cached: patient data never is
(Streamlit's SQL connection query caches forever without a ttl; engineering.md surprise 4)."""
from __future__ import annotations

import streamlit as st

from monitoring.config import Settings, load_settings
from monitoring.services.transactions import make_engine


@st.cache_resource
def get_settings() -> Settings:
    return load_settings()


@st.cache_resource(on_release=lambda engine: engine.dispose())
def get_engine():  # a SQLAlchemy Engine (not imported: pages never touch SQLAlchemy)
    return make_engine(get_settings().database_url)
