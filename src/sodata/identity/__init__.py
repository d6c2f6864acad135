"""Identity: the embedded Keycloak-compatible OpenID Connect provider, and the trust of an
external Keycloak instead. It says who a caller is; `sodata.access` says what they may do."""
