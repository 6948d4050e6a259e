// Simulation models of the ECP5's DP16KD block RAM and MULT18X18D multiplier, which Yosys's
// library declares without behaviour (sim/netlist.py appends them to its ECP5 cell models).
// Written for the modes synth_ecp5 instantiates; sim/netlist.py refuses a netlist that uses
// another mode before it is simulated (``ecp5_mode_problems``), and the models stop the
// simulation with GHOSTFPGA_MODEL_ERROR if one reaches them anyway.
//
// DP16KD, true dual port, 16 Kbit as 1024 rows of 18 bits (row r holds bits r*18 .. r*18+17 of
// INIT; INITVAL_xx packs 16 rows in 20-bit slots, the top two bits of each unused). Port width
// w in {1, 2, 4, 9, 18}: the w-bit word k is bits k*w .. k*w+w-1 (the address's low bits below
// log2(18 / w) + 4 select it; at 18 bits, AD0 and AD1 are the byte write enables of bits 0-8
// and 9-17). On a clock edge with CE high and the chip selects equal to CSDECODE: a write
// (WE) stores the word and leaves DO as WRITEMODE says (NORMAL: held, WRITETHROUGH: the new
// word, READBEFOREWRITE: the old word); a read puts the word on DO (REGMODE NOREG: one clock
// of latency). RST clears DO on the clock edge (both RESETMODEs: synth_ecp5 ties it low).
// A read on one port of any bit the other port writes on the same edge returns X (Icarus) or
// a random word (Verilator) and prints GHOSTFPGA_COLLISION with the instance. (The iCE40's
// strict SB_RAM40_4K judges by its 16-bit physical row instead: two 9-bit words of one 18-bit
// row are distinct here.)
// Covered: widths 1, 2, 4, 9, 18 on each port, the three write modes, NOREG, CSDECODE, clocks
// CLKA / CLKB (not inverted). Not covered (refused): OUTREG, 36-bit (PDPW16KD), inverted
// clocks.
//
// MULT18X18D, combinational (every REG_*_CLK "NONE"): P = A * B, 36 bits, each operand signed
// when its SIGNEDA / SIGNEDB is high; SOURCEA / SOURCEB select the shift inputs SRIA / SRIB
// instead of A / B; ROA, ROB, ROC and SROA, SROB show the operands. Not covered (refused): any
// input, pipeline or output register.

module DP16KD(
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA,
  input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB,
  input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter INITVAL_00 = 320'h0; parameter INITVAL_01 = 320'h0; parameter INITVAL_02 = 320'h0;
  parameter INITVAL_03 = 320'h0; parameter INITVAL_04 = 320'h0; parameter INITVAL_05 = 320'h0;
  parameter INITVAL_06 = 320'h0; parameter INITVAL_07 = 320'h0; parameter INITVAL_08 = 320'h0;
  parameter INITVAL_09 = 320'h0; parameter INITVAL_0A = 320'h0; parameter INITVAL_0B = 320'h0;
  parameter INITVAL_0C = 320'h0; parameter INITVAL_0D = 320'h0; parameter INITVAL_0E = 320'h0;
  parameter INITVAL_0F = 320'h0; parameter INITVAL_10 = 320'h0; parameter INITVAL_11 = 320'h0;
  parameter INITVAL_12 = 320'h0; parameter INITVAL_13 = 320'h0; parameter INITVAL_14 = 320'h0;
  parameter INITVAL_15 = 320'h0; parameter INITVAL_16 = 320'h0; parameter INITVAL_17 = 320'h0;
  parameter INITVAL_18 = 320'h0; parameter INITVAL_19 = 320'h0; parameter INITVAL_1A = 320'h0;
  parameter INITVAL_1B = 320'h0; parameter INITVAL_1C = 320'h0; parameter INITVAL_1D = 320'h0;
  parameter INITVAL_1E = 320'h0; parameter INITVAL_1F = 320'h0; parameter INITVAL_20 = 320'h0;
  parameter INITVAL_21 = 320'h0; parameter INITVAL_22 = 320'h0; parameter INITVAL_23 = 320'h0;
  parameter INITVAL_24 = 320'h0; parameter INITVAL_25 = 320'h0; parameter INITVAL_26 = 320'h0;
  parameter INITVAL_27 = 320'h0; parameter INITVAL_28 = 320'h0; parameter INITVAL_29 = 320'h0;
  parameter INITVAL_2A = 320'h0; parameter INITVAL_2B = 320'h0; parameter INITVAL_2C = 320'h0;
  parameter INITVAL_2D = 320'h0; parameter INITVAL_2E = 320'h0; parameter INITVAL_2F = 320'h0;
  parameter INITVAL_30 = 320'h0; parameter INITVAL_31 = 320'h0; parameter INITVAL_32 = 320'h0;
  parameter INITVAL_33 = 320'h0; parameter INITVAL_34 = 320'h0; parameter INITVAL_35 = 320'h0;
  parameter INITVAL_36 = 320'h0; parameter INITVAL_37 = 320'h0; parameter INITVAL_38 = 320'h0;
  parameter INITVAL_39 = 320'h0; parameter INITVAL_3A = 320'h0; parameter INITVAL_3B = 320'h0;
  parameter INITVAL_3C = 320'h0; parameter INITVAL_3D = 320'h0; parameter INITVAL_3E = 320'h0;
  parameter INITVAL_3F = 320'h0;
  parameter INIT_DATA = "STATIC";

  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  reg [17:0] doa = 18'b0, dob = 18'b0;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;

  reg [18431 + 18:0] bits;   // 1024 rows x 18 bits (and room for a word read at the end)
  wire [20479:0] initval = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A,
    INITVAL_39, INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32,
    INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A,
    INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22,
    INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A,
    INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12,
    INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A,
    INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02,
    INITVAL_01, INITVAL_00};

  function integer lsb_bits(input integer width);   // address bits below the word index
    lsb_bits = width == 18 ? 4 : width == 9 ? 3 : width == 4 ? 2 : width == 2 ? 1 : 0;
  endfunction
  function [2:0] decode(input [39:0] text);          // "0bXYZ" -> XYZ
    decode = {text[16 +: 8] == "1", text[8 +: 8] == "1", text[0 +: 8] == "1"};
  endfunction

  localparam LA = lsb_bits(DATA_WIDTH_A), LB = lsb_bits(DATA_WIDTH_B);
  wire [13:0] word_a = ada >> LA, word_b = adb >> LB;
  wire [14:0] lo_a = word_a * DATA_WIDTH_A, lo_b = word_b * DATA_WIDTH_B;   // first bit
  wire sel_a = {CSA2, CSA1, CSA0} == decode(CSDECODE_A);
  wire sel_b = {CSB2, CSB1, CSB0} == decode(CSDECODE_B);
  wire on_a = CEA && sel_a, on_b = CEB && sel_b;
  // a collision: one port reads a bit the other port writes on the same edge
  wire overlap = lo_a < lo_b + DATA_WIDTH_B && lo_b < lo_a + DATA_WIDTH_A;

  integer i, ia, ib;
  initial begin
    if ((DATA_WIDTH_A != 1 && DATA_WIDTH_A != 2 && DATA_WIDTH_A != 4 && DATA_WIDTH_A != 9 &&
         DATA_WIDTH_A != 18) || (DATA_WIDTH_B != 1 && DATA_WIDTH_B != 2 && DATA_WIDTH_B != 4 &&
         DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18) || REGMODE_A != "NOREG" ||
        REGMODE_B != "NOREG" || CLKAMUX != "CLKA" || CLKBMUX != "CLKB") begin
      $display("GHOSTFPGA_MODEL_ERROR DP16KD %m: a mode the model does not cover (widths %0d/%0d, REGMODE %0s/%0s, clocks %0s/%0s)",
               DATA_WIDTH_A, DATA_WIDTH_B, REGMODE_A, REGMODE_B, CLKAMUX, CLKBMUX);
      $finish;
    end
    bits = 0;
    for (i = 0; i < 1024; i = i + 1)
      bits[i * 18 +: 18] = initval[i * 20 +: 18];
  end

  localparam [17:0] MASK_A = (18'h3ffff >> (18 - DATA_WIDTH_A));
  localparam [17:0] MASK_B = (18'h3ffff >> (18 - DATA_WIDTH_B));
  wire [17:0] word_at_a = bits[lo_a +: 18] & MASK_A, word_at_b = bits[lo_b +: 18] & MASK_B;

  // port A, then port B, on their own edges; a collision randomizes the reading port's word
  always @(posedge CLKA) begin
    if (RSTA) doa <= 18'b0;
    else if (on_a) begin
      if (WEA) begin
        if (WRITEMODE_A == "READBEFOREWRITE") doa <= word_at_a;
        else if (WRITEMODE_A == "WRITETHROUGH") doa <= dia & MASK_A;
        for (ia = 0; ia < 18; ia = ia + 1)
          if (ia < DATA_WIDTH_A && (DATA_WIDTH_A != 18 || (ia < 9 ? ada[0] : ada[1])))
            bits[lo_a + ia] <= dia[ia];
      end else if (on_b && WEB && CLKB && overlap) begin
        $display("GHOSTFPGA_COLLISION %m port A word %0d at %0t", word_a, $time);
`ifdef VERILATOR
        doa <= $random;
`else
        doa <= 18'bx;
`endif
      end else
        doa <= word_at_a;
    end
  end

  always @(posedge CLKB) begin
    if (RSTB) dob <= 18'b0;
    else if (on_b) begin
      if (WEB) begin
        if (WRITEMODE_B == "READBEFOREWRITE") dob <= word_at_b;
        else if (WRITEMODE_B == "WRITETHROUGH") dob <= dib & MASK_B;
        for (ib = 0; ib < 18; ib = ib + 1)
          if (ib < DATA_WIDTH_B && (DATA_WIDTH_B != 18 || (ib < 9 ? adb[0] : adb[1])))
            bits[lo_b + ib] <= dib[ib];
      end else if (on_a && WEA && CLKA && overlap) begin
        $display("GHOSTFPGA_COLLISION %m port B word %0d at %0t", word_b, $time);
`ifdef VERILATOR
        dob <= $random;
`else
        dob <= 18'bx;
`endif
      end else
        dob <= word_at_b;
    end
  end
endmodule


module MULT18X18D(
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
  input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
  output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
  output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
  output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
  output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
  output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
  output P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
  output SIGNEDP
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";

  initial
    if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE" ||
        REG_PIPELINE_CLK != "NONE" || REG_OUTPUT_CLK != "NONE" || MULT_BYPASS != "DISABLED") begin
      $display("GHOSTFPGA_MODEL_ERROR MULT18X18D %m: registered or bypassed modes are not modelled");
      $finish;
    end

  wire [17:0] a_pin = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b_pin = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  wire [17:0] c_pin = {C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0};
  wire [17:0] sria = {SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0};
  wire [17:0] srib = {SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0};
  wire [17:0] a = SOURCEA === 1'b1 ? sria : a_pin;
  wire [17:0] b = SOURCEB === 1'b1 ? srib : b_pin;
  // each operand widened to 36 bits, by its sign when it is signed
  wire [35:0] a_wide = {{18{SIGNEDA === 1'b1 && a[17]}}, a};
  wire [35:0] b_wide = {{18{SIGNEDB === 1'b1 && b[17]}}, b};
  wire [35:0] p = a_wide * b_wide;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
          P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
  assign SIGNEDP = SIGNEDA === 1'b1 || SIGNEDB === 1'b1;
  assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a;
  assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b;
  assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = c_pin;
  assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a;
  assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b;
endmodule
