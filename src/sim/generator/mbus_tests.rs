//! Water and heat meters on the M-Bus (tests).
