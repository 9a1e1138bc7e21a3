//! Evolution strategies behind one ask/tell interface (placeholder).
