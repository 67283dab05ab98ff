"""Sans-IO SMS codecs: TS 24.011 RP, TS 23.040 TP, TS 23.038 alphabets."""
