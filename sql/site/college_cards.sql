select school_code, year, card, rests_on_unconfirmed, reasons_zh from mart.college_card
