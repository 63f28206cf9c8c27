//! UART0 of the LM3S6965 (an ARM PL011): the board's console. The log
//! lines and the chat's messages go out on it; the chat's commands come in
//! on it, a line at a time, as the course's chat reads its keyboard.
//!
//! On QEMU's lm3s6965evb it is the first `-serial` (the terminal with
//! `-nographic`). On a real board it is the USB virtual COM port of the
//! evaluation kit's debugger, at 115200 8N1.

use core::fmt;

use reseau_firmware::mmio;

const BASE: usize = 0x4000_c000;
/// Data: write a byte to send it, read one received.
const DR: usize = BASE;
/// Flags.
const FR: usize = BASE + 0x18;
#[cfg(feature = "chat")]
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// Baud rate, integer and fractional parts of (clock / (16 * baud)).
const IBRD: usize = BASE + 0x24;
const FBRD: usize = BASE + 0x28;
/// Line control: 8 bits, FIFOs on.
const LCRH: usize = BASE + 0x2c;
const LCRH_8N1_FIFO: u32 = 0x70;
/// Control: UART, transmitter and receiver enabled.
const CTL: usize = BASE + 0x30;
const CTL_ENABLE: u32 = 0x301;

/// The console. There is one UART0: [`Uart::new`] takes it.
pub struct Uart {
    _private: (),
}

impl Uart {
    /// Sets UART0 to 115200 8N1 with a 12 MHz system clock (the
    /// LM3S6965's internal oscillator, as at reset). On a real board the
    /// UART0 clock (SYSCTL RCGC1 bit 0) and pins PA0/PA1 (GPIO A clock,
    /// AFSEL) must be enabled first; QEMU needs neither.
    pub fn new() -> Uart {
        mmio::write(CTL, 0);
        // 12 MHz / (16 * 115200) = 6.51: 6 and 0.51 * 64 = 33.
        mmio::write(IBRD, 6);
        mmio::write(FBRD, 33);
        mmio::write(LCRH, LCRH_8N1_FIFO);
        mmio::write(CTL, CTL_ENABLE);
        Uart { _private: () }
    }

    /// UART0 as it is, without setting it up again: for the panic handler,
    /// which cannot reach `main`'s.
    pub fn steal() -> Uart {
        Uart { _private: () }
    }

    /// Sends `bytes`, waiting while the transmit FIFO is full.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            while mmio::read(FR) & FR_TXFF != 0 {}
            mmio::write(DR, u32::from(byte));
        }
    }

    /// A received byte, if one is waiting.
    #[cfg(feature = "chat")]
    pub fn read_byte(&mut self) -> Option<u8> {
        if mmio::read(FR) & FR_RXFE != 0 {
            None
        } else {
            // The low 8 bits are the byte; bits 8 to 11 report framing,
            // parity, break and overrun errors, ignored on a console.
            Some(mmio::read(DR) as u8)
        }
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_bytes(text.as_bytes());
        Ok(())
    }
}
