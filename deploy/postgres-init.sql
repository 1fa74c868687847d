-- knarr's own database beside Temporal's two (temporal, temporal_visibility).
CREATE DATABASE knarr;
