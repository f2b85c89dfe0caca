/* GENERATED — do not edit. schema hash 0x5f9d538a787e4c95 */
